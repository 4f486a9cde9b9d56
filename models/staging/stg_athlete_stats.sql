-- All-time totals the API reports for the athlete, one row per sport kind.
{% set kinds = ['ride', 'run', 'swim'] %}
{% for kind in kinds %}
select
    '{{ kind }}' as totals_kind,
    all_{{ kind }}_totals__count as activity_count,
    {{ meters_to_km('all_' ~ kind ~ '_totals__distance') }} as distance_km,
    {{ seconds_to_hours('all_' ~ kind ~ '_totals__moving_time') }} as moving_hours
from {{ source('strava', 'athlete_stats') }}
{% if not loop.last %}union all{% endif %}
{% endfor %}
