{% set categories = ['cycling', 'running', 'walking'] %}

select
    week_start,
    count(*) as activities,
    round(sum(distance_km), 2) as distance_km,
    round(sum(moving_hours), 2) as moving_hours,
    round(sum(elevation_gain_m), 1) as elevation_gain_m,
    {% for c in categories -%}
    round(sum(case when category = '{{ c }}' then distance_km else 0 end), 2) as {{ c }}_km{{ "," if not loop.last }}
    {% endfor %}
from {{ ref('fct_activities') }}
where week_start >= date '{{ var("weekly_totals_start") }}'
group by week_start
