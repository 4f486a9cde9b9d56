{# Calendar helpers: ISO week start (Monday) of a timestamp. #}

{% macro week_start(column) -%}
    cast(date_trunc('week', {{ column }}) as date)
{%- endmacro %}
