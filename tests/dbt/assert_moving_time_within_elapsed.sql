-- An activity cannot move for longer than it lasted.
select activity_id, moving_time_s, elapsed_time_s
from {{ ref('stg_activities') }}
where moving_time_s > elapsed_time_s
