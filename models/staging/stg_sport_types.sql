select sport_type, category, is_virtual
from {{ ref('sport_types') }}
