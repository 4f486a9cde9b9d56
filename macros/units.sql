{# Unit conversions used by the staging and mart models. #}

{% macro meters_to_km(column, precision=2) -%}
    round({{ column }} / 1000.0, {{ precision }})
{%- endmacro %}

{% macro mps_to_kph(column, precision=1) -%}
    round({{ column }} * 3.6, {{ precision }})
{%- endmacro %}

{% macro seconds_to_hours(column, precision=2) -%}
    round({{ column }} / 3600.0, {{ precision }})
{%- endmacro %}
