{#- Aggregates (`dbt.listagg`, `dbt.bool_or`, `dbt.any_value`), set
    operators (`dbt.except()`, `dbt.intersect()`), arrays
    (`dbt.array_construct`...) and `dbt.equals`. -#}

{#- Concatenates `measure` over the group with `delimiter_text` (a quoted
    SQL string). `order_by_clause` is a whole clause (`order by id desc`);
    `limit_num` keeps only the first n values. -#}
{% macro listagg(measure, delimiter_text="','", order_by_clause=none, limit_num=none) -%}
    {%- do return(adapter.dispatch('listagg', 'dbt')(measure, delimiter_text, order_by_clause, limit_num)) -%}
{%- endmacro %}

{% macro default__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
    {%- set within = (' within group (' ~ order_by_clause ~ ')') if order_by_clause else '' -%}
    {%- if limit_num -%}
        array_to_string(array_slice(array_agg({{ measure }}){{ within }}, 0, {{ limit_num }}), {{ delimiter_text }})
    {%- else -%}
        listagg({{ measure }}, {{ delimiter_text }}){{ within }}
    {%- endif -%}
{%- endmacro %}

{#- DuckDB takes the ordering inside the call; a limit slices the ordered
    list and joins it with list_aggr(..., 'string_agg', delimiter). -#}
{% macro duckdb__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
    {%- set ordering = (' ' ~ order_by_clause) if order_by_clause else '' -%}
    {%- if limit_num -%}
        list_aggr((array_agg({{ measure }}{{ ordering }}))[1:{{ limit_num }}], 'string_agg', {{ delimiter_text }})
    {%- else -%}
        string_agg({{ measure }}, {{ delimiter_text }}{{ ordering }})
    {%- endif -%}
{%- endmacro %}

{% macro bool_or(expression) -%}
    {%- do return(adapter.dispatch('bool_or', 'dbt')(expression)) -%}
{%- endmacro %}

{% macro default__bool_or(expression) -%}
    bool_or({{ expression }})
{%- endmacro %}

{% macro any_value(expression) -%}
    {%- do return(adapter.dispatch('any_value', 'dbt')(expression)) -%}
{%- endmacro %}

{% macro default__any_value(expression) -%}
    any_value({{ expression }})
{%- endmacro %}

{#- DuckDB's `arbitrary` is the first value of the group; unlike its
    any_value it does not skip nulls, as dbt-duckdb. -#}
{% macro duckdb__any_value(expression) -%}
    arbitrary({{ expression }})
{%- endmacro %}

{% macro except() -%}
    {%- do return(adapter.dispatch('except', 'dbt')()) -%}
{%- endmacro %}

{% macro default__except() -%}
    except
{%- endmacro %}

{% macro intersect() -%}
    {%- do return(adapter.dispatch('intersect', 'dbt')()) -%}
{%- endmacro %}

{% macro default__intersect() -%}
    intersect
{%- endmacro %}

{#- An array of the SQL expressions in `inputs` (all of one type); an empty
    one needs its element type. -#}
{% macro array_construct(inputs=[], data_type=api.Column.translate_type('integer')) -%}
    {%- do return(adapter.dispatch('array_construct', 'dbt')(inputs, data_type)) -%}
{%- endmacro %}

{% macro default__array_construct(inputs, data_type) -%}
    {%- if inputs | length > 0 -%}
        array[ {{ inputs | join(' , ') }} ]
    {%- else -%}
        array[]::{{ data_type }}[]
    {%- endif -%}
{%- endmacro %}

{% macro array_append(array, new_element) -%}
    {%- do return(adapter.dispatch('array_append', 'dbt')(array, new_element)) -%}
{%- endmacro %}

{% macro default__array_append(array, new_element) -%}
    array_append({{ array }}, {{ new_element }})
{%- endmacro %}

{% macro array_concat(array_1, array_2) -%}
    {%- do return(adapter.dispatch('array_concat', 'dbt')(array_1, array_2)) -%}
{%- endmacro %}

{% macro default__array_concat(array_1, array_2) -%}
    array_cat({{ array_1 }}, {{ array_2 }})
{%- endmacro %}

{#- `expr1 = expr2`. With the behavior flag `enable_truthy_nulls_equals_macro`
    (dbt_project.yml `flags:`), two nulls count as equal too. -#}
{% macro equals(expr1, expr2) -%}
    {%- do return(adapter.dispatch('equals', 'dbt')(expr1, expr2)) -%}
{%- endmacro %}

{% macro default__equals(expr1, expr2) -%}
    {%- if adapter.behavior.enable_truthy_nulls_equals_macro.no_warn -%}
        case when (({{ expr1 }} = {{ expr2 }}) or ({{ expr1 }} is null and {{ expr2 }} is null)) then 0 else 1 end = 0
    {%- else -%}
        ({{ expr1 }} = {{ expr2 }})
    {%- endif -%}
{%- endmacro %}
