-- Activities as loaded from the API, renamed and in metric units.
-- `start_date_local` is the athlete's wall-clock time written with a `Z`;
-- reading it at UTC keeps that wall-clock time.
select
    a.id as activity_id,
    a.athlete__id as athlete_id,
    a.name as activity_name,
    a.sport_type,
    timezone('UTC', a.start_date_local) as started_at,
    cast(timezone('UTC', a.start_date_local) as date) as activity_date,
    a.distance as distance_m,
    {{ meters_to_km('a.distance') }} as distance_km,
    a.moving_time as moving_time_s,
    a.elapsed_time as elapsed_time_s,
    a.total_elevation_gain as elevation_gain_m,
    a.average_speed as average_speed_mps,
    {{ mps_to_kph('a.average_speed') }} as average_speed_kph,
    a.max_speed as max_speed_mps,
    a.average_watts,
    a.weighted_average_watts,
    a.kilojoules,
    a.average_heartrate,
    a.has_heartrate,
    a.commute as is_commute,
    a.gear_id,
    a.map__summary_polyline as summary_polyline,
    lat.value as start_lat,
    lng.value as start_lng
from {{ source('strava', 'activities') }} a
left join {{ source('strava', 'activities__start_latlng') }} lat
    on lat._rdbt_parent_id = a._rdbt_id and lat._rdbt_list_idx = 0
left join {{ source('strava', 'activities__start_latlng') }} lng
    on lng._rdbt_parent_id = a._rdbt_id and lng._rdbt_list_idx = 1
