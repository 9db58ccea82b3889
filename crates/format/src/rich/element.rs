//! A structured-content element as LivePerson's JSON holds it, read
//! leniently: a field of an unexpected type reads as absent.

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// A structured-content element, read leniently: fields of unexpected types
/// are ignored (the original travels in the provenance anyway).
#[derive(Debug, Default)]
pub(super) struct El<'b> {
    pub(super) kind: Option<Cow<'b, str>>,
    pub(super) text: Option<Cow<'b, str>>,
    pub(super) url: Option<Cow<'b, str>>,
    pub(super) title: Option<Cow<'b, str>>,
    pub(super) subtitle: Option<Cow<'b, str>>,
    pub(super) caption: Option<Cow<'b, str>>,
    pub(super) alt: Option<Cow<'b, str>>,
    pub(super) tooltip: Option<Cow<'b, str>>,
    /// A key-value pair's key and value (`keyValuePairList`).
    pub(super) key: Option<Cow<'b, str>>,
    pub(super) value: Option<Cow<'b, str>>,
    /// An accordion title's name and what it adds (`titles`), a select
    /// mode's name.
    pub(super) name: Option<Cow<'b, str>>,
    pub(super) additional: Option<Cow<'b, str>>,
    pub(super) la: Option<&'b RawValue>,
    pub(super) lo: Option<&'b RawValue>,
    pub(super) click: Option<&'b RawValue>,
    pub(super) elements: Vec<El<'b>>,
    /// A quick replies template's buttons.
    pub(super) replies: Vec<El<'b>>,
    /// A quick reply template's answers (`template`, `resp`).
    pub(super) resp: Vec<Cow<'b, str>>,
    /// An accordion's titles, one per element.
    pub(super) titles: Vec<El<'b>>,
    /// How a selecting carousel or accordion chooses (`selectMode`).
    pub(super) select_mode: Option<Box<El<'b>>>,
    /// Quick replies attached to the element (beside its `elements`).
    pub(super) quick_replies: Option<Box<El<'b>>>,
}

/// Drains whatever value a visitor was handed.
macro_rules! ignore_the_rest {
    ($out:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($out)
        }
    };
}

/// A string if it is one; anything else reads as `None`.
struct MaybeStr<'b>(Option<Cow<'b, str>>);

impl<'de: 'b, 'b> Deserialize<'de> for MaybeStr<'b> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MaybeStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(MaybeStr(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(MaybeStr(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                while a.next_element::<IgnoredAny>()?.is_some() {}
                Ok(MaybeStr(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(MaybeStr(None))
            }
            ignore_the_rest!(MaybeStr(None));
        }
        d.deserialize_any(V)
    }
}

/// A list (`elements`, `replies`, `resp`...): its items, or nothing if
/// it is not a list.
struct List<T>(Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = List<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                let mut v = Vec::new();
                while let Some(el) = a.next_element()? {
                    v.push(el);
                }
                Ok(List(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(List(Vec::new()))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(List(Vec::new()))
            }
            ignore_the_rest!(List(Vec::new()));
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

impl<'de: 'b, 'b> Deserialize<'de> for El<'b> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = El<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an element")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                let mut el = El::default();
                while let Some(k) = a.next_key::<crate::json::Str<'de>>()? {
                    match k.as_str() {
                        "type" => el.kind = a.next_value::<MaybeStr>()?.0,
                        "text" => el.text = a.next_value::<MaybeStr>()?.0,
                        "url" => el.url = a.next_value::<MaybeStr>()?.0,
                        "title" => el.title = a.next_value::<MaybeStr>()?.0,
                        "subtitle" => el.subtitle = a.next_value::<MaybeStr>()?.0,
                        "caption" => el.caption = a.next_value::<MaybeStr>()?.0,
                        "alt" => el.alt = a.next_value::<MaybeStr>()?.0,
                        "tooltip" => el.tooltip = a.next_value::<MaybeStr>()?.0,
                        "la" => el.la = Some(a.next_value()?),
                        "lo" => el.lo = Some(a.next_value()?),
                        "click" => el.click = Some(a.next_value()?),
                        "key" => el.key = a.next_value::<MaybeStr>()?.0,
                        "value" => el.value = a.next_value::<MaybeStr>()?.0,
                        "name" => el.name = a.next_value::<MaybeStr>()?.0,
                        "additional" => el.additional = a.next_value::<MaybeStr>()?.0,
                        "elements" => el.elements = a.next_value::<List<El>>()?.0,
                        "replies" => el.replies = a.next_value::<List<El>>()?.0,
                        "resp" => {
                            el.resp = a
                                .next_value::<List<MaybeStr>>()?
                                .0
                                .into_iter()
                                .filter_map(|s| s.0)
                                .collect()
                        }
                        "titles" => el.titles = a.next_value::<List<El>>()?.0,
                        "selectMode" => el.select_mode = Some(Box::new(a.next_value()?)),
                        "quickReplies" => el.quick_replies = Some(Box::new(a.next_value()?)),
                        _ => {
                            a.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(el)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                while a.next_element::<IgnoredAny>()?.is_some() {}
                Ok(El::default())
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(El::default())
            }
            ignore_the_rest!(El::default());
        }
        d.deserialize_any(V)
    }
}
