//! Fonts for pictures: DejaVu Sans, shipped in `assets/`, for Latin, Greek and symbols, and
//! a Hangul font found on the machine for Korean text (class names, titles), which DejaVu
//! has no glyphs for.
//!
//! Plotters draws each piece of text with one font, so [`family`] picks per text: DejaVu
//! when it covers every character, otherwise the Hangul font (Hangul fonts such as
//! NanumGothic also cover Latin). The Hangul font is `$BACKPROP_HANGUL_FONT` when set, else
//! the first of the usual places of Debian's `fonts-nanum` and Noto CJK that exists and has
//! Hangul glyphs. When none is found, the first Korean text drawn makes a one-line warning on
//! stderr saying so and how to install one: the picture is still written, but its Korean
//! characters are empty boxes.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ab_glyph::{Font, FontRef};
use plotters::style::FontStyle;

use crate::error::{Error, Result};

/// The family name DejaVu Sans is registered under.
pub const LATIN: &str = "sans-serif";
static LATIN_BYTES: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// Where Hangul fonts are looked for when `$BACKPROP_HANGUL_FONT` is not set.
pub const HANGUL_CANDIDATES: [&str; 6] = [
    "/usr/share/fonts/truetype/nanum/NanumGothic.ttf",
    "/usr/share/fonts/truetype/nanum/NanumBarunGothic.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/Library/Fonts/NanumGothic.ttf",
];

/// A font with Hangul glyphs found on this machine.
#[derive(Debug)]
pub struct HangulFont {
    /// The file it was read from.
    pub path: PathBuf,
    /// The family name it is registered (and named in SVG files) under: the file's stem.
    pub family: &'static str,
    bytes: &'static [u8],
}

/// The Hangul font of this machine, if any (looked for once).
pub fn hangul() -> Option<&'static HangulFont> {
    static FOUND: OnceLock<Option<HangulFont>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            let candidates: Vec<PathBuf> = match std::env::var_os("BACKPROP_HANGUL_FONT") {
                Some(p) => vec![PathBuf::from(p)],
                None => HANGUL_CANDIDATES.iter().map(PathBuf::from).collect(),
            };
            candidates.iter().find_map(|p| load_hangul(p))
        })
        .as_ref()
}

fn load_hangul(path: &Path) -> Option<HangulFont> {
    let bytes: &'static [u8] = Box::leak(std::fs::read(path).ok()?.into_boxed_slice());
    let font = FontRef::try_from_slice(bytes).ok()?;
    if font.glyph_id('한').0 == 0 || font.glyph_id('A').0 == 0 {
        return None;
    }
    let stem = path.file_stem()?.to_string_lossy().into_owned();
    Some(HangulFont {
        path: path.to_path_buf(),
        family: Box::leak(stem.into_boxed_str()),
        bytes,
    })
}

/// Registers the fonts with plotters (once per process).
pub fn register() -> Result<()> {
    static DONE: OnceLock<bool> = OnceLock::new();
    let ok = *DONE.get_or_init(|| {
        let latin = plotters::style::register_font(LATIN, FontStyle::Normal, LATIN_BYTES).is_ok();
        if let Some(h) = hangul() {
            // A font that fails to register is left out; `family` then warns as if absent.
            let _ = plotters::style::register_font(h.family, FontStyle::Normal, h.bytes);
        }
        latin
    });
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(
            "the shipped font could not be loaded".into(),
        ))
    }
}

/// Whether DejaVu Sans has a glyph for every character of `text`.
pub fn latin_covers(text: &str) -> bool {
    static FONT: OnceLock<FontRef<'static>> = OnceLock::new();
    let font = FONT.get_or_init(|| FontRef::try_from_slice(LATIN_BYTES).expect("shipped font"));
    text.chars()
        .all(|c| c.is_whitespace() || c.is_control() || font.glyph_id(c).0 != 0)
}

/// What happens to Korean text in pictures on this machine, in one line (for `--help`-like
/// messages and the warning).
pub fn hangul_status() -> String {
    match hangul() {
        Some(h) => format!("Korean text is drawn with {}", h.path.display()),
        None => "no font with Hangul glyphs is installed, so Korean text in pictures is drawn \
                 as empty boxes: install one (Debian: apt-get install fonts-nanum) or set \
                 BACKPROP_HANGUL_FONT to a .ttf file that has them"
            .into(),
    }
}

/// The family to draw `text` with: DejaVu when it covers the text, else the Hangul font.
/// Without a Hangul font, warns once on stderr and returns DejaVu.
pub fn family(text: &str) -> &'static str {
    if latin_covers(text) {
        return LATIN;
    }
    match hangul() {
        Some(h) => h.family,
        None => {
            static WARNED: OnceLock<()> = OnceLock::new();
            WARNED.get_or_init(|| eprintln!("warning: {}", hangul_status()));
            LATIN
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dejavu_covers_latin_and_greek_but_not_hangul() {
        assert!(latin_covers("loss − accuracy ∂L/∂W β₁ σ"));
        assert!(!latin_covers("셔츠"));
        assert!(!latin_covers("epoch 1: 정확도"));
    }

    /// Draws `text` in `family` on a small white bitmap and returns its pixels.
    fn render(text: &str, family: &str) -> Vec<u8> {
        use plotters::prelude::*;
        register().unwrap();
        let mut rgb = vec![0u8; 200 * 40 * 3];
        {
            let root = BitMapBackend::with_buffer(&mut rgb, (200, 40)).into_drawing_area();
            root.fill(&WHITE).unwrap();
            root.draw(&Text::new(text, (2, 2), (family, 24))).unwrap();
            root.present().unwrap();
        }
        rgb
    }

    /// With a Hangul font installed (CI installs fonts-nanum; BACKPROP_REQUIRE_HANGUL_FONT=1
    /// makes its absence fail), Korean class names are drawn with its glyphs: other pixels
    /// than DejaVu's empty boxes for the same text.
    #[test]
    fn korean_text_is_drawn_with_hangul_glyphs() {
        let Some(h) = hangul() else {
            assert!(
                std::env::var("BACKPROP_REQUIRE_HANGUL_FONT").as_deref() != Ok("1"),
                "BACKPROP_REQUIRE_HANGUL_FONT=1 but {}",
                hangul_status()
            );
            return;
        };
        let text = "티셔츠 → 바지";
        let hangul_px = render(text, family(text));
        let boxes = render(text, LATIN);
        assert_ne!(hangul_px, boxes);
        let ink = |px: &[u8]| px.iter().filter(|&&v| v < 128).count();
        assert!(ink(&hangul_px) > 100, "{}", h.path.display());
        // Each Hangul syllable is drawn from outlines of its own, not one shared box: two
        // different words give different pictures.
        assert_ne!(render("바지", h.family), render("가방", h.family));
    }

    #[test]
    fn latin_text_uses_the_shipped_font_and_hangul_the_fallback() {
        assert_eq!(family("T-shirt/top"), LATIN);
        match hangul() {
            Some(h) => {
                assert_eq!(family("티셔츠"), h.family);
                let font = FontRef::try_from_slice(h.bytes).unwrap();
                assert!(
                    "티셔츠 Sneaker"
                        .chars()
                        .all(|c| c == ' ' || font.glyph_id(c).0 != 0)
                );
            }
            None => {
                assert_eq!(family("티셔츠"), LATIN);
                assert!(hangul_status().contains("fonts-nanum"));
            }
        }
    }
}
