{#- Number series and date spines (`dbt.generate_series`,
    `dbt.get_powers_of_two`, `dbt.get_intervals_between`, `dbt.date_spine`). -#}

{#- The smallest n >= 1 with 2^n >= upper_bound: how many binary digits the
    generic series below needs. -#}
{% macro get_powers_of_two(upper_bound) -%}
    {%- do return(adapter.dispatch('get_powers_of_two', 'dbt')(upper_bound)) -%}
{%- endmacro %}

{% macro default__get_powers_of_two(upper_bound) -%}
    {%- if upper_bound <= 0 -%}
        {%- do exceptions.raise_compiler_error('get_powers_of_two: the upper bound must be positive, got ' ~ upper_bound) -%}
    {%- endif -%}
    {%- for n in range(1, 100) -%}
        {%- if upper_bound <= 2 ** n -%}
            {%- do return(n) -%}
        {%- endif -%}
    {%- endfor -%}
{%- endmacro %}

{#- A query of one column, generated_number, holding 1 .. upper_bound. -#}
{% macro generate_series(upper_bound) -%}
    {%- do return(adapter.dispatch('generate_series', 'dbt')(upper_bound)) -%}
{%- endmacro %}

{#- Without a series function: cross join one {0, 1} table per binary digit
    and add up the digits' values. -#}
{% macro default__generate_series(upper_bound) -%}
    {%- set digits = range(dbt.get_powers_of_two(upper_bound)) -%}
    with p as (
        select 0 as generated_number union all select 1
    ), unioned as (
        select
            {% for i in digits %}p{{ i }}.generated_number * power(2, {{ i }}){{ ' + ' if not loop.last }}{% endfor %}
            + 1 as generated_number
        from
            {% for i in digits %}p as p{{ i }}{{ ' cross join ' if not loop.last }}{% endfor %}
    )
    select *
    from unioned
    where generated_number <= {{ upper_bound }}
    order by generated_number
{%- endmacro %}

{% macro duckdb__generate_series(upper_bound) -%}
    select generate_series as generated_number
    from generate_series(1, {{ upper_bound }})
{%- endmacro %}

{#- How many `datepart`s lie between two dates, asked of the database while
    compiling. While parsing nothing runs and the answer is 1. -#}
{% macro get_intervals_between(start_date, end_date, datepart) -%}
    {%- do return(adapter.dispatch('get_intervals_between', 'dbt')(start_date, end_date, datepart)) -%}
{%- endmacro %}

{% macro default__get_intervals_between(start_date, end_date, datepart) -%}
    {%- call statement('get_intervals_between', fetch_result=True) -%}
        select {{ dbt.datediff(start_date, end_date, datepart) }}
    {%- endcall -%}
    {%- set result = load_result('get_intervals_between') -%}
    {%- if result and result['data'] -%}
        {%- do return(result['data'][0][0]) -%}
    {%- endif -%}
    {%- do return(1) -%}
{%- endmacro %}

{#- One row per `datepart` from start_date up to end_date (inclusive), in a
    column named date_<datepart>. -#}
{% macro date_spine(datepart, start_date, end_date) -%}
    {%- do return(adapter.dispatch('date_spine', 'dbt')(datepart, start_date, end_date)) -%}
{%- endmacro %}

{% macro default__date_spine(datepart, start_date, end_date) -%}
    {%- set column = 'date_' ~ datepart -%}
    {%- set periods = dbt.get_intervals_between(start_date, end_date, datepart) -%}
    with rawdata as (
        {{ dbt.generate_series(periods) }}
    ),
    all_periods as (
        select (
            {{ dbt.dateadd(datepart, 'row_number() over (order by 1) - 1', start_date) }}
        ) as {{ column }}
        from rawdata
    ),
    filtered as (
        select *
        from all_periods
        where {{ column }} <= {{ end_date }}
    )
    select * from filtered
{%- endmacro %}
