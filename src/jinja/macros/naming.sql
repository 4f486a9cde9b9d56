{#- Schema, alias and database naming. A project macro of the same name
    overrides these (macros of the root project resolve first). -#}

{% macro generate_schema_name(custom_schema_name, node) -%}
    {{- default__generate_schema_name(custom_schema_name, node) -}}
{%- endmacro %}

{% macro default__generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none or custom_schema_name == '' -%}
        {{- target.schema -}}
    {%- else -%}
        {{- target.schema ~ '_' ~ (custom_schema_name | trim) -}}
    {%- endif -%}
{%- endmacro %}

{% macro generate_alias_name(custom_alias_name=none, node=none) -%}
    {{- default__generate_alias_name(custom_alias_name, node) -}}
{%- endmacro %}

{% macro default__generate_alias_name(custom_alias_name=none, node=none) -%}
    {%- if custom_alias_name -%}
        {{- custom_alias_name | trim -}}
    {%- elif node.version -%}
        {{- node.name ~ '_v' ~ (node.version | string | replace('.', '_')) -}}
    {%- else -%}
        {{- node.name -}}
    {%- endif -%}
{%- endmacro %}

{% macro generate_database_name(custom_database_name=none, node=none) -%}
    {{- default__generate_database_name(custom_database_name, node) -}}
{%- endmacro %}

{% macro default__generate_database_name(custom_database_name=none, node=none) -%}
    {%- if custom_database_name is none or custom_database_name == '' -%}
        {{- target.database -}}
    {%- else -%}
        {{- custom_database_name | trim -}}
    {%- endif -%}
{%- endmacro %}

{% macro should_store_failures() -%}
    {{- return(config.get('store_failures') or flags.STORE_FAILURES) -}}
{%- endmacro %}
