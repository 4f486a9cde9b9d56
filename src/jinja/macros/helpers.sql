{#- Global helper macros packages call: `get_columns_in_query`,
    `get_empty_subquery_sql`, `load_relation`, `load_cached_relation`,
    `should_full_refresh`. -#}

{#- Column names of a query's result, found by running it with no rows. -#}
{% macro get_columns_in_query(select_sql) -%}
    {%- do return(adapter.dispatch('get_columns_in_query', 'dbt')(select_sql)) -%}
{%- endmacro %}

{% macro default__get_columns_in_query(select_sql) -%}
    {%- call statement('get_columns_in_query', fetch_result=True, auto_begin=False) -%}
        {{ get_empty_subquery_sql(select_sql) }}
    {%- endcall -%}
    {%- set result = load_result('get_columns_in_query') -%}
    {#- Nothing ran (parsing): no columns. -#}
    {%- if result is none or result['table'] is none -%}
        {%- do return([]) -%}
    {%- endif -%}
    {%- do return(result['table'].columns | map(attribute='name') | list) -%}
{%- endmacro %}

{#- `select_sql` wrapped so that it returns its columns and no rows. -#}
{% macro get_empty_subquery_sql(select_sql, select_sql_header=none) -%}
    {%- do return(adapter.dispatch('get_empty_subquery_sql', 'dbt')(select_sql, select_sql_header)) -%}
{%- endmacro %}

{% macro default__get_empty_subquery_sql(select_sql, select_sql_header=none) -%}
    {%- if select_sql_header is not none -%}
        {{ select_sql_header }}
    {%- endif %}
    select * from (
        {{ select_sql }}
    ) as __dbt_sbq
    where false
    limit 0
{%- endmacro %}

{#- DuckDB cannot take a header statement inside the wrapped query: run it
    on its own first, in the same session. -#}
{% macro duckdb__get_empty_subquery_sql(select_sql, select_sql_header=none) -%}
    {%- if select_sql_header is not none -%}
        {%- do run_query(select_sql_header) -%}
    {%- endif -%}
    select * from (
        {{ select_sql }}
    ) as __dbt_sbq
    where false
    limit 0
{%- endmacro %}

{#- The relation as it exists in the database (with its type), or none.
    A bare `load_relation(...)` is the context function of the same name;
    these macros make `dbt.load_relation` and `load_cached_relation` reach
    the same lookup. -#}
{% macro load_cached_relation(relation) -%}
    {%- do return(adapter.load_relation(relation)) -%}
{%- endmacro %}

{% macro load_relation(relation) -%}
    {%- do return(adapter.load_relation(relation)) -%}
{%- endmacro %}

{#- The node's `full_refresh` config when set, else the --full-refresh flag. -#}
{% macro should_full_refresh() -%}
    {%- set configured = config.get('full_refresh') -%}
    {%- do return(flags.FULL_REFRESH if configured is none else configured) -%}
{%- endmacro %}
