//! Images the newsroom uploads: each is kept in a few widths (renditions), named by a digest of
//! its content, so that its addresses never change and a browser may keep them for ever.

use std::fmt;

/// The widths, in pixels, that renditions are made in; an image narrower than one of them is
/// also kept at its own width.
pub const RENDITION_WIDTHS: [u32; 5] = [320, 640, 960, 1280, 1920];

/// The width an article's `src` names, for browsers that read no `srcset`.
const DEFAULT_WIDTH: u32 = 1280;

/// The `sizes` of an article image: the text column's width, or the whole screen on a phone.
pub const ARTICLE_SIZES: &str = "(min-width: 48rem) 46rem, 100vw";

/// The file format renditions are stored and served in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaFormat {
    /// Photographs, whether they arrived as JPEG or as WebP without transparency.
    Jpeg,
    /// Graphics, and images with transparency.
    Png,
}

impl MediaFormat {
    pub fn extension(self) -> &'static str {
        match self {
            MediaFormat::Jpeg => "jpg",
            MediaFormat::Png => "png",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            MediaFormat::Jpeg => "image/jpeg",
            MediaFormat::Png => "image/png",
        }
    }

    pub fn from_extension(ext: &str) -> Option<MediaFormat> {
        match ext {
            "jpg" => Some(MediaFormat::Jpeg),
            "png" => Some(MediaFormat::Png),
            _ => None,
        }
    }
}

/// A media id: the first 32 hex digits of the SHA-256 of the uploaded bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MediaId(String);

impl MediaId {
    /// The id of uploaded bytes.
    pub fn of(bytes: &[u8]) -> MediaId {
        use sha2::{Digest, Sha256};
        MediaId(hex32(&Sha256::digest(bytes)))
    }

    /// Reads an id from an address; anything but 32 lowercase hex digits is none.
    pub fn parse(text: &str) -> Option<MediaId> {
        (text.len() == 32 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .then(|| MediaId(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn hex32(bytes: &[u8]) -> String {
    bytes.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

impl fmt::Display for MediaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An uploaded image and its renditions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    pub id: MediaId,
    pub format: MediaFormat,
    /// The original's size, after its orientation was applied.
    pub width: u32,
    pub height: u32,
    /// The widths kept, narrowest first.
    pub widths: Vec<u32>,
}

impl Media {
    /// The widths to keep of an image `width` pixels wide: every standard width below it, and
    /// its own if it is not wider than the widest.
    pub fn widths_for(width: u32) -> Vec<u32> {
        let mut widths: Vec<u32> = RENDITION_WIDTHS
            .into_iter()
            .filter(|w| *w < width)
            .collect();
        let widest = RENDITION_WIDTHS[RENDITION_WIDTHS.len() - 1];
        if width <= widest {
            widths.push(width);
        }
        widths
    }

    /// The height of the rendition `width` pixels wide, keeping the proportions.
    pub fn height_at(&self, width: u32) -> u32 {
        let h = u64::from(self.height) * u64::from(width) / u64::from(self.width.max(1));
        u32::try_from(h.max(1)).unwrap_or(u32::MAX)
    }

    /// The address of one rendition.
    pub fn path(&self, width: u32) -> String {
        format!("/media/{}/{width}.{}", self.id, self.format.extension())
    }

    /// The rendition an article's `src` names.
    pub fn default_width(&self) -> u32 {
        self.widths
            .iter()
            .copied()
            .filter(|w| *w <= DEFAULT_WIDTH)
            .max()
            .unwrap_or(self.widths[0])
    }

    /// Every rendition, for `srcset`.
    pub fn srcset(&self) -> String {
        self.widths
            .iter()
            .map(|w| format!("{} {w}w", self.path(*w)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renditions_never_enlarge() {
        assert_eq!(Media::widths_for(200), [200]);
        assert_eq!(Media::widths_for(640), [320, 640]);
        assert_eq!(Media::widths_for(1000), [320, 640, 960, 1000]);
        assert_eq!(Media::widths_for(4000), [320, 640, 960, 1280, 1920]);
        let m = Media {
            id: MediaId::of(b"x"),
            format: MediaFormat::Jpeg,
            width: 4000,
            height: 3000,
            widths: Media::widths_for(4000),
        };
        assert_eq!(m.default_width(), 1280);
        assert_eq!(m.height_at(1280), 960);
        assert!(m
            .srcset()
            .starts_with(&format!("/media/{}/320.jpg 320w, ", m.id)));
        assert_eq!(MediaId::parse(m.id.as_str()), Some(m.id.clone()));
        assert_eq!(MediaId::parse("../../etc/passwd"), None);
        assert_eq!(MediaId::parse(&m.id.as_str().to_uppercase()), None);
    }
}
