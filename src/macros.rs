//! Macros used inside the crate.

/// Writes the `with_<field>` setters of an options struct: consuming and chainable, one per public
/// field, so that options read the same everywhere
/// (`ModelOptions::default().with_instances(2).with_batching(…)`).
///
/// Each line is `with_name(field, kind);`, where kind is
/// - a type `T`: the setter takes a `T`;
/// - `some T`: the field is an `Option<T>` and the setter takes the `T`;
/// - `string`: the field is a `String`, the setter takes `impl Into<String>`;
/// - `some_string`: an `Option<String>`, the setter takes `impl Into<String>`;
/// - `list T`: a `Vec<T>`, the setter takes `impl IntoIterator<Item = T>`;
/// - `some_strings`: an `Option<Vec<String>>`, the setter takes
///   `impl IntoIterator<Item = impl Into<String>>`.
macro_rules! with_setters {
    ($ty:ident { $($setter:ident($field:ident, $($kind:tt)+);)* }) => {
        impl $ty {
            $( with_setters!(@one $ty, $setter, $field, $($kind)+); )*
        }
    };
    (@one $ty:ident, $setter:ident, $field:ident, some_strings) => {
        #[doc = concat!("Sets [`", stringify!($field), "`](", stringify!($ty), "::", stringify!($field), ").")]
        #[must_use]
        pub fn $setter(mut self, value: impl IntoIterator<Item = impl Into<String>>) -> Self {
            self.$field = Some(value.into_iter().map(Into::into).collect());
            self
        }
    };
    (@one $ty:ident, $setter:ident, $field:ident, some_string) => {
        #[doc = concat!("Sets [`", stringify!($field), "`](", stringify!($ty), "::", stringify!($field), ").")]
        #[must_use]
        pub fn $setter(mut self, value: impl Into<String>) -> Self {
            self.$field = Some(value.into());
            self
        }
    };
    (@one $ty:ident, $setter:ident, $field:ident, string) => {
        #[doc = concat!("Sets [`", stringify!($field), "`](", stringify!($ty), "::", stringify!($field), ").")]
        #[must_use]
        pub fn $setter(mut self, value: impl Into<String>) -> Self {
            self.$field = value.into();
            self
        }
    };
    (@one $ty:ident, $setter:ident, $field:ident, some $t:ty) => {
        #[doc = concat!("Sets [`", stringify!($field), "`](", stringify!($ty), "::", stringify!($field), ").")]
        #[must_use]
        pub fn $setter(mut self, value: $t) -> Self {
            self.$field = Some(value);
            self
        }
    };
    (@one $ty:ident, $setter:ident, $field:ident, list $t:ty) => {
        #[doc = concat!("Sets [`", stringify!($field), "`](", stringify!($ty), "::", stringify!($field), ").")]
        #[must_use]
        pub fn $setter(mut self, value: impl IntoIterator<Item = $t>) -> Self {
            self.$field = value.into_iter().collect();
            self
        }
    };
    (@one $ty:ident, $setter:ident, $field:ident, $t:ty) => {
        #[doc = concat!("Sets [`", stringify!($field), "`](", stringify!($ty), "::", stringify!($field), ").")]
        #[must_use]
        pub fn $setter(mut self, value: $t) -> Self {
            self.$field = value;
            self
        }
    };
}
