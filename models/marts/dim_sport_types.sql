select
    s.sport_type,
    s.category,
    s.is_virtual,
    count(a.activity_id) as activity_count
from {{ ref('stg_sport_types') }} s
left join {{ ref('stg_activities') }} a using (sport_type)
group by 1, 2, 3
