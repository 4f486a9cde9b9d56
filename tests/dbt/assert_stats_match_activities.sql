-- The API's all-time ride and run counts agree with the activities loaded.
with loaded as (
    select
        case when category = 'cycling' then 'ride' when sport_type = 'Run' then 'run' end as totals_kind,
        count(*) as loaded_count
    from {{ ref('fct_activities') }}
    group by 1
)
select s.totals_kind, s.activity_count, l.loaded_count
from {{ ref('stg_athlete_stats') }} s
left join loaded l using (totals_kind)
where s.totals_kind in ('ride', 'run')
  and s.activity_count <> coalesce(l.loaded_count, 0)
