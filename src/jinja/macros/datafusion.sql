{#- DataFusion's dialect of the cross-database `dbt.*` macros (dispatched
    when the target's `type` is `datafusion`). Each gives the same values and
    types as the DuckDB version, so a project builds the same tables on
    both engines. -#}

{#- The first value of the group, nulls included (as DuckDB's `arbitrary`). -#}
{% macro datafusion__any_value(expression) -%}
    first_value({{ expression }})
{%- endmacro %}

{% macro datafusion__current_timestamp() -%}
    now()
{%- endmacro %}

{% macro datafusion__date(year, month, day) -%}
    make_date({{ year }}, {{ month }}, {{ day }})
{%- endmacro %}

{#- The count may be any expression, so the interval is built from text
    ('<n> <unit>') per row (see interval_count_and_unit). The
    result is a TIMESTAMP, as DuckDB's date + interval. -#}
{% macro datafusion__dateadd(datepart, interval, from_date_or_timestamp) -%}
    {%- set step = dbt.interval_count_and_unit(datepart, interval) -%}
    (cast({{ from_date_or_timestamp }} as timestamp) + cast(concat(cast({{ step[0] }} as varchar), ' {{ step[1] }}') as interval))
{%- endmacro %}

{#- Boundaries crossed between the two, as DuckDB's date_diff: calendar
    parts from year and month numbers, days from dates, smaller parts from
    whole units of the epoch. -#}
{% macro datafusion__datediff(first_date, second_date, datepart) -%}
    {%- set a = 'cast(' ~ first_date ~ ' as timestamp)' -%}
    {%- set b = 'cast(' ~ second_date ~ ' as timestamp)' -%}
    {%- set unit = datepart | lower -%}
    {%- if unit == 'week' -%}
        {%- set forward = first_date ~ ' <= ' ~ second_date -%}
        ({{ datediff(first_date, second_date, 'day') }} / 7 + case
            when date_part('dow', {{ a }}) <= date_part('dow', {{ b }})
                then case when {{ forward }} then 0 else -1 end
            else case when {{ forward }} then 1 else 0 end
        end)
    {%- elif unit == 'year' -%}
        cast(date_part('year', {{ b }}) - date_part('year', {{ a }}) as bigint)
    {%- elif unit == 'quarter' -%}
        cast((date_part('year', {{ b }}) * 4 + date_part('quarter', {{ b }})) - (date_part('year', {{ a }}) * 4 + date_part('quarter', {{ a }})) as bigint)
    {%- elif unit == 'month' -%}
        cast((date_part('year', {{ b }}) * 12 + date_part('month', {{ b }})) - (date_part('year', {{ a }}) * 12 + date_part('month', {{ a }})) as bigint)
    {%- elif unit == 'day' -%}
        cast(floor(date_part('epoch', date_trunc('day', {{ b }})) / 86400) - floor(date_part('epoch', date_trunc('day', {{ a }})) / 86400) as bigint)
    {%- else -%}
        {%- set seconds = {'hour': 3600, 'minute': 60, 'second': 1, 'millisecond': 0.001, 'microsecond': 0.000001} -%}
        {%- if unit not in seconds -%}
            {%- do exceptions.raise_compiler_error('datediff: unknown datepart ' ~ datepart) -%}
        {%- endif -%}
        cast(floor(date_part('epoch', {{ b }}) / {{ seconds[unit] }}) - floor(date_part('epoch', {{ a }}) / {{ seconds[unit] }}) as bigint)
    {%- endif -%}
{%- endmacro %}

{#- As on DuckDB (a quarter is stepped as three months); the dateadd inside
    dispatches to datafusion__dateadd. -#}
{% macro datafusion__last_day(date, datepart) -%}
    {{- dbt.duckdb__last_day(date, datepart) -}}
{%- endmacro %}

{% macro datafusion__generate_series(upper_bound) -%}
    select value as generated_number
    from generate_series(1, {{ upper_bound }})
{%- endmacro %}

{% macro datafusion__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
    {%- set ordering = (' ' ~ order_by_clause) if order_by_clause else '' -%}
    {%- if limit_num -%}
        array_to_string(array_slice(array_agg({{ measure }}{{ ordering }}), 1, {{ limit_num }}), {{ delimiter_text }})
    {%- else -%}
        string_agg({{ measure }}, {{ delimiter_text }}{{ ordering }})
    {%- endif -%}
{%- endmacro %}

{#- As DuckDB's string_split(...)[n]: a part past the end is NULL, and an
    empty string has one (empty) part. -#}
{% macro datafusion__split_part(string_text, delimiter_text, part_number) -%}
    case when {{ string_text }} = '' then (case when abs({{ part_number }}) = 1 then '' end)
        else string_to_array({{ string_text }}, {{ delimiter_text }})[{{ part_number }}] end
{%- endmacro %}

{% macro datafusion__array_construct(inputs, data_type) -%}
    {%- if inputs | length > 0 -%}
        make_array({{ inputs | join(' , ') }})
    {%- else -%}
        cast(make_array() as {{ data_type }}[])
    {%- endif -%}
{%- endmacro %}

{% macro datafusion__array_concat(array_1, array_2) -%}
    array_concat({{ array_1 }}, {{ array_2 }})
{%- endmacro %}

{% macro datafusion__get_empty_subquery_sql(select_sql, select_sql_header=none) -%}
    {{- dbt.duckdb__get_empty_subquery_sql(select_sql, select_sql_header) -}}
{%- endmacro %}
