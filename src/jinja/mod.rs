//! jinja
