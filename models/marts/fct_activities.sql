select
    a.activity_id,
    a.athlete_id,
    a.activity_name,
    a.sport_type,
    t.category,
    a.started_at,
    a.activity_date,
    {{ week_start('a.started_at') }} as week_start,
    a.distance_km,
    {{ seconds_to_hours('a.moving_time_s') }} as moving_hours,
    a.elevation_gain_m,
    a.average_speed_kph,
    a.average_watts,
    a.weighted_average_watts,
    a.kilojoules,
    a.average_heartrate,
    a.is_commute
from {{ ref('stg_activities') }} a
join {{ ref('stg_sport_types') }} t using (sport_type)
