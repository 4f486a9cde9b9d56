-- Distance, time and climbing per ISO week and sport type.
select
    week_start,
    sport_type,
    category,
    count(*) as activities,
    round(sum(distance_km), 2) as distance_km,
    round(sum(moving_hours), 2) as moving_hours,
    round(sum(elevation_gain_m), 1) as elevation_gain_m,
    round(sum(coalesce(kilojoules, 0)), 1) as kilojoules
from {{ ref('fct_activities') }}
where week_start >= date '{{ var("weekly_totals_start") }}'
group by week_start, sport_type, category
