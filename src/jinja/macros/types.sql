{#- Type names and casts (`dbt.type_string()`, `dbt.cast(...)`, ...).

    Each public macro dispatches through `adapter.dispatch(<name>, 'dbt')`, so
    a project (or a package listed in `dispatch:`) can replace the
    `default__`/`duckdb__` implementation below by defining its own. The
    type macros return the bare type name (no surrounding whitespace), as
    callers splice them into string literals and `cast(... as ...)`. -#}

{% macro type_string() -%}{%- do return(adapter.dispatch('type_string', 'dbt')()) -%}{%- endmacro %}
{% macro default__type_string() -%}{%- do return(api.Column.translate_type('string')) -%}{%- endmacro %}

{% macro type_timestamp() -%}{%- do return(adapter.dispatch('type_timestamp', 'dbt')()) -%}{%- endmacro %}
{% macro default__type_timestamp() -%}{%- do return(api.Column.translate_type('timestamp')) -%}{%- endmacro %}

{#- `float` is DuckDB's 4-byte FLOAT, as on dbt-duckdb. -#}
{% macro type_float() -%}{%- do return(adapter.dispatch('type_float', 'dbt')()) -%}{%- endmacro %}
{% macro default__type_float() -%}{%- do return(api.Column.translate_type('float')) -%}{%- endmacro %}

{#- A fixed precision and scale, so results do not depend on the engine's
    default for a bare `numeric`. -#}
{% macro type_numeric() -%}{%- do return(adapter.dispatch('type_numeric', 'dbt')()) -%}{%- endmacro %}
{% macro default__type_numeric() -%}{%- do return(api.Column.numeric_type('numeric', 28, 6)) -%}{%- endmacro %}

{% macro type_bigint() -%}{%- do return(adapter.dispatch('type_bigint', 'dbt')()) -%}{%- endmacro %}
{% macro default__type_bigint() -%}{%- do return(api.Column.translate_type('bigint')) -%}{%- endmacro %}

{% macro type_int() -%}{%- do return(adapter.dispatch('type_int', 'dbt')()) -%}{%- endmacro %}
{% macro default__type_int() -%}{%- do return(api.Column.translate_type('integer')) -%}{%- endmacro %}

{% macro type_boolean() -%}{%- do return(adapter.dispatch('type_boolean', 'dbt')()) -%}{%- endmacro %}
{% macro default__type_boolean() -%}{%- do return(api.Column.translate_type('boolean')) -%}{%- endmacro %}


{% macro cast(field, type) -%}
    {%- do return(adapter.dispatch('cast', 'dbt')(field, type)) -%}
{%- endmacro %}

{% macro default__cast(field, type) -%}
    cast({{ field }} as {{ type }})
{%- endmacro %}

{#- Like dbt-duckdb, `safe_cast` is a plain cast on DuckDB (a value that
    does not convert is an error, not null). -#}
{% macro safe_cast(field, type) -%}
    {%- do return(adapter.dispatch('safe_cast', 'dbt')(field, type)) -%}
{%- endmacro %}

{% macro default__safe_cast(field, type) -%}
    cast({{ field }} as {{ type }})
{%- endmacro %}

{% macro cast_bool_to_text(field) -%}
    {%- do return(adapter.dispatch('cast_bool_to_text', 'dbt')(field)) -%}
{%- endmacro %}

{% macro default__cast_bool_to_text(field) -%}
    cast({{ field }} as {{ api.Column.translate_type('string') }})
{%- endmacro %}
