{#- Helpers for materializations written in Jinja (a project's or package's
    `{% materialization %}` blocks). rdbt's own view/table/incremental/seed
    materializations are native; these give custom ones the building blocks
    they call. Written for rdbt. -#}

{% macro run_hooks(hooks, inside_transaction=True) -%}
  {%- for hook in hooks -%}
    {%- set hook_sql = hook.get('sql') if hook is mapping else hook -%}
    {%- set in_tx = hook.get('transaction', True) if hook is mapping else True -%}
    {%- if in_tx == inside_transaction and hook_sql | trim -%}
      {%- call statement(auto_begin=inside_transaction) -%}{{ hook_sql }}{%- endcall -%}
    {%- endif -%}
  {%- endfor -%}
{%- endmacro %}

{% macro should_full_refresh() -%}
  {%- set configured = config.get('full_refresh') -%}
  {{- return(flags.FULL_REFRESH if configured is none else configured) -}}
{%- endmacro %}

{% macro make_temp_relation(base_relation, suffix='__dbt_tmp') -%}
  {{- return(adapter.dispatch('make_temp_relation', 'dbt')(base_relation, suffix)) -}}
{%- endmacro %}

{% macro default__make_temp_relation(base_relation, suffix) -%}
  {{- return(base_relation.incorporate(path={'identifier': base_relation.identifier ~ suffix})) -}}
{%- endmacro %}

{% macro make_intermediate_relation(base_relation, suffix='__dbt_tmp') -%}
  {{- return(make_temp_relation(base_relation, suffix)) -}}
{%- endmacro %}

{% macro make_backup_relation(base_relation, backup_relation_type, suffix='__dbt_backup') -%}
  {{- return(base_relation.incorporate(path={'identifier': base_relation.identifier ~ suffix}, type=backup_relation_type)) -}}
{%- endmacro %}

{% macro load_cached_relation(relation) -%}
  {{- return(adapter.get_relation(database=relation.database, schema=relation.schema, identifier=relation.identifier)) -}}
{%- endmacro %}

{% macro drop_relation_if_exists(relation) -%}
  {%- if relation is not none -%}{%- do adapter.drop_relation(relation) -%}{%- endif -%}
{%- endmacro %}

{% macro get_create_table_as_sql(temporary, relation, sql) -%}
  {{- return(adapter.dispatch('get_create_table_as_sql', 'dbt')(temporary, relation, sql)) -}}
{%- endmacro %}

{% macro default__get_create_table_as_sql(temporary, relation, sql) -%}
  {{- return(create_table_as(temporary, relation, sql)) -}}
{%- endmacro %}

{% macro create_table_as(temporary, relation, compiled_code, language='sql') -%}
  {{- adapter.dispatch('create_table_as', 'dbt')(temporary, relation, compiled_code, language) -}}
{%- endmacro %}

{% macro default__create_table_as(temporary, relation, compiled_code, language='sql') -%}
  {%- if temporary -%}
    create temporary table {{ relation.include(database=false, schema=false) }} as (
      {{ compiled_code }}
    )
  {%- else -%}
    create table {{ relation }} as (
      {{ compiled_code }}
    )
  {%- endif -%}
{%- endmacro %}

{% macro get_create_view_as_sql(relation, sql) -%}
  {{- return(adapter.dispatch('get_create_view_as_sql', 'dbt')(relation, sql)) -}}
{%- endmacro %}

{% macro default__get_create_view_as_sql(relation, sql) -%}
  {{- return(create_view_as(relation, sql)) -}}
{%- endmacro %}

{% macro create_view_as(relation, sql) -%}
  {{- adapter.dispatch('create_view_as', 'dbt')(relation, sql) -}}
{%- endmacro %}

{% macro default__create_view_as(relation, sql) -%}
  create view {{ relation }} as (
    {{ sql }}
  )
{%- endmacro %}

{% macro get_insert_into_sql(target_relation, temp_relation, dest_columns) -%}
  {%- set cols = dest_columns | map(attribute='quoted') | join(', ') -%}
  insert into {{ target_relation }} ({{ cols }})
  select {{ cols }} from {{ temp_relation }}
{%- endmacro %}

{#- Documentation and grants are not persisted by rdbt on DuckDB. -#}
{% macro persist_docs(relation, model, for_relation=true, for_columns=true) -%}{%- endmacro %}
{% macro apply_grants(relation, grant_config, should_revoke=True) -%}{%- endmacro %}
{% macro should_revoke(existing_relation, full_refresh_mode=True) -%}{{- return(false) -}}{%- endmacro %}
