//! The interface's texts in Russian, Kazakh and English, from `src/i18n/locales/*.json`.
//!
//! `build.rs` turns the catalogue into code: a [`Key`] per text (a misspelt key does not compile;
//! a catalogue missing a key does not build) and `td_string!(locale, key)`, which puts the Russian
//! text into the function that shows it — so a screen loaded on first use brings its own texts
//! in its chunk. Russian is always compiled in. The release build (the `split` feature) fetches
//! Kazakh or English when a cashier chooses it — [`load`], from the content-hashed file
//! `xtask finish-dist` writes, which the service worker precaches, so it loads offline too; every
//! other build compiles them in. (`files.rs` here is build-time code, shared by `build.rs` and
//! the xtask.)
//!
//! The app's own code rather than an i18n crate's: the crate's generated catalogue compiled every
//! language into the download, and the texts need nothing but lookup (numbers are put in by
//! `messages::with_number`).

include!(concat!(env!("OUT_DIR"), "/catalogue.rs"));

/// An interface language. Lower-case like the language codes it stands for.
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Locale {
    ru,
    kk,
    en,
}

impl Locale {
    /// The language's code: the page's `lang`, the remembered choice.
    pub fn as_str(self) -> &'static str {
        match self {
            Locale::ru => "ru",
            Locale::kk => "kk",
            Locale::en => "en",
        }
    }
}

// Generated with the catalogue; the same name as in the i18n crate the app used before.
pub(crate) use td_string;

/// The text `key` in `locale`, given its Russian text (`td_string!` passes it from where it is
/// used). Russian too while another catalogue has not been loaded (see [`load`]: the app loads a
/// language before it shows it, so that is only a fallback).
pub fn text(locale: Locale, key: Key, russian: &'static str) -> &'static str {
    match locale {
        Locale::ru => russian,
        _ => texts(locale).map_or(russian, |texts| texts[key as usize]),
    }
}

/// Whether `locale`'s texts are at hand, so switching to it shows it at once.
pub fn is_loaded(locale: Locale) -> bool {
    locale == Locale::ru || texts(locale).is_some()
}

#[cfg(not(feature = "split"))]
fn texts(locale: Locale) -> Option<&'static [&'static str; KEY_COUNT]> {
    match locale {
        Locale::ru => None,
        Locale::kk => Some(&KAZAKH),
        Locale::en => Some(&ENGLISH),
    }
}

/// Makes `locale`'s texts available to [`text`]. Every language is compiled into this build.
#[cfg(not(feature = "split"))]
pub async fn load(_locale: Locale) -> Result<(), LoadError> {
    Ok(())
}

#[cfg(feature = "split")]
pub use fetched::load;
#[cfg(feature = "split")]
use fetched::texts;

/// Why a language could not be loaded; the cashier keeps the language they had.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("the catalogue could not be fetched: {0}")]
    Network(String),
    #[error("the catalogue is not this build's: {0}")]
    Malformed(String),
}

#[cfg(feature = "split")]
mod fetched {
    use std::cell::OnceCell;

    use tolem_outbox::boxed::Boxed;

    use super::{ENGLISH_FILE, KAZAKH_FILE, KEY_COUNT, LoadError, Locale};

    type Catalogue = &'static [&'static str; KEY_COUNT];

    // Loaded once per page and kept for its life (a few dozen kilobytes at most), which lets
    // every text stay a `&'static str` like the compiled-in Russian ones.
    thread_local! {
        static KAZAKH: OnceCell<Catalogue> = const { OnceCell::new() };
        static ENGLISH: OnceCell<Catalogue> = const { OnceCell::new() };
    }

    type Loaded = &'static std::thread::LocalKey<OnceCell<Catalogue>>;

    /// Where `locale`'s texts are kept once loaded, and the file they come from; none for
    /// Russian, which is compiled in.
    fn source(locale: Locale) -> Option<(Loaded, &'static str)> {
        match locale {
            Locale::ru => None,
            Locale::kk => Some((&KAZAKH, KAZAKH_FILE)),
            Locale::en => Some((&ENGLISH, ENGLISH_FILE)),
        }
    }

    pub(super) fn texts(locale: Locale) -> Option<Catalogue> {
        source(locale).and_then(|(cell, _)| cell.with(|loaded| loaded.get().copied()))
    }

    /// Fetches `locale`'s catalogue (from the service worker's cache once it is installed), unless
    /// it is already loaded.
    ///
    /// Boxed, so the page's start (`main`, another crate) and the language switch await one copy
    /// (see `tolem_outbox::boxed`).
    #[inline(never)]
    pub fn load(locale: Locale) -> Boxed<'static, Result<(), LoadError>> {
        Box::pin(load_once(locale))
    }

    async fn load_once(locale: Locale) -> Result<(), LoadError> {
        let Some((cell, file)) = source(locale) else {
            return Ok(());
        };
        if cell.with(|loaded| loaded.get().is_some()) {
            return Ok(());
        }
        let response = gloo_net::http::Request::get(file)
            .send()
            .await
            .map_err(|e| LoadError::Network(e.to_string()))?;
        if !response.ok() {
            return Err(LoadError::Network(format!(
                "{file}: HTTP {}",
                response.status()
            )));
        }
        let body = response
            .binary()
            .await
            .map_err(|e| LoadError::Network(e.to_string()))?;
        let texts: Vec<String> = tolem_protocol::json::from_bytes(&body)
            .map_err(|e| LoadError::Malformed(format!("{file}: {e}")))?;
        let texts: Vec<&'static str> = texts
            .into_iter()
            .map(|text| &*Box::leak(text.into_boxed_str()))
            .collect();
        let texts: Box<[&'static str; KEY_COUNT]> =
            texts
                .into_boxed_slice()
                .try_into()
                .map_err(|texts: Box<[&str]>| {
                    LoadError::Malformed(format!("{file}: {} texts, not {KEY_COUNT}", texts.len()))
                })?;
        // A second load that raced this one may have set it first: same file, same texts.
        cell.with(|loaded| {
            let _ = loaded.set(Box::leak(texts));
        });
        Ok(())
    }
}
