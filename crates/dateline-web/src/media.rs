//! Uploaded images: checked by their content, decoded within limits, turned upright, resized
//! into renditions and re-encoded (which leaves every metadata block behind, location
//! included), written beside the database, and served for ever under addresses named by a
//! digest of the upload.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use axum::extract::{Path as UrlPath, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use dateline_core::media::{Media, MediaFormat, MediaId};
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};

use crate::AppState;

/// The largest upload read, in bytes.
pub const MAX_UPLOAD: usize = 25 << 20;
/// The most pixels an upload may have: a 48-megapixel camera's picture.
const MAX_PIXELS: u64 = 48_000_000;
/// The longest side an upload may have.
const MAX_SIDE: u32 = 16_000;
/// The JPEG quality of renditions.
const JPEG_QUALITY: u8 = 82;

/// Why an upload was refused: each says what was wrong with the file.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is {0} bytes; the most an image may have is {MAX_UPLOAD} bytes")]
    TooLarge(usize),
    #[error("the file is not a JPEG, PNG or WebP image{0}")]
    NotAnImage(String),
    #[error("the image is {width} by {height} pixels; the most allowed is {MAX_PIXELS} pixels, and {MAX_SIDE} on a side")]
    TooManyPixels { width: u32, height: u32 },
    #[error("the image cannot be read: {0}")]
    Broken(String),
    #[error("the image could not be stored: {0}")]
    Io(#[from] std::io::Error),
}

/// A decoded upload's renditions, ready to be written.
pub struct Processed {
    pub media: Media,
    /// Each rendition's width and encoded bytes.
    pub files: Vec<(u32, Vec<u8>)>,
}

/// Checks, decodes and resizes an upload. Runs on a blocking thread: it is all CPU.
pub fn process(bytes: &[u8]) -> Result<Processed, MediaError> {
    if bytes.is_empty() {
        return Err(MediaError::Empty);
    }
    if bytes.len() > MAX_UPLOAD {
        return Err(MediaError::TooLarge(bytes.len()));
    }
    // The type is read from the content, never from a name or a header the client chose.
    let format = match image::guess_format(bytes) {
        Ok(f @ (ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP)) => f,
        Ok(other) => {
            return Err(MediaError::NotAnImage(format!(
                ": its content is {}",
                other.to_mime_type()
            )))
        }
        Err(_) => return Err(MediaError::NotAnImage(String::new())),
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    // Room for the largest picture at 16 bits a channel with transparency.
    limits.max_alloc = Some(MAX_PIXELS * 8 + (64 << 20));
    reader.limits(limits);
    let broken = |e: image::ImageError| match e {
        image::ImageError::Limits(_) => MediaError::Broken(format!("{e}: it is too large")),
        other => MediaError::Broken(other.to_string()),
    };
    let mut decoder = reader.into_decoder().map_err(broken)?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > MAX_PIXELS || width > MAX_SIDE || height > MAX_SIDE {
        return Err(MediaError::TooManyPixels { width, height });
    }
    if width == 0 || height == 0 {
        return Err(MediaError::Broken("it has no pixels".into()));
    }
    let orientation = decoder.orientation().map_err(broken)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(broken)?;
    image.apply_orientation(orientation);
    let kind = if format == ImageFormat::Png || image.color().has_alpha() {
        MediaFormat::Png
    } else {
        MediaFormat::Jpeg
    };
    let media = Media {
        id: MediaId::of(bytes),
        format: kind,
        width: image.width(),
        height: image.height(),
        widths: Media::widths_for(image.width()),
    };
    let mut files = Vec::with_capacity(media.widths.len());
    for &w in &media.widths {
        let sized = if w == image.width() {
            image.clone()
        } else {
            image.resize_exact(w, media.height_at(w), image::imageops::FilterType::Lanczos3)
        };
        let mut out = Cursor::new(Vec::new());
        match kind {
            MediaFormat::Jpeg => {
                let encoder =
                    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY);
                DynamicImage::ImageRgb8(sized.to_rgb8())
                    .write_with_encoder(encoder)
                    .map_err(broken)?;
            }
            MediaFormat::Png => {
                let encoder = image::codecs::png::PngEncoder::new(&mut out);
                sized.write_with_encoder(encoder).map_err(broken)?;
            }
        }
        files.push((w, out.into_inner()));
    }
    Ok(Processed { media, files })
}

/// Where an image's renditions live.
fn folder(root: &Path, id: &MediaId) -> PathBuf {
    root.join(id.as_str())
}

/// Writes an image's renditions under `root`, each through a temporary file renamed into
/// place, so a reader never sees half a file and a crash leaves none.
pub fn write(root: &Path, processed: &Processed) -> Result<(), MediaError> {
    let dir = folder(root, &processed.media.id);
    std::fs::create_dir_all(&dir)?;
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    for (w, bytes) in &processed.files {
        let name = format!("{w}.{}", processed.media.format.extension());
        let target = dir.join(&name);
        // Named by the digest of the upload: a file already there is this very rendition.
        if target.exists() {
            continue;
        }
        // Two uploads of one image at once each write their own temporary file.
        let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let temp = dir.join(format!(".{name}.{}.{n}.part", std::process::id()));
        std::fs::write(&temp, bytes)?;
        std::fs::rename(&temp, target)?;
    }
    Ok(())
}

/// `GET /media/{id}/{file}`: a rendition, which never changes.
/// The size in bytes of the rendition a site address (`/media/{id}/{width}.{ext}`) names, or
/// 0 when it names none.
pub async fn stored_size(root: &Path, address: &str) -> u64 {
    let Some(rest) = address.strip_prefix("/media/") else {
        return 0;
    };
    let Some((id, file)) = rest.split_once('/') else {
        return 0;
    };
    let Some(id) = MediaId::parse(id) else {
        return 0;
    };
    let Some((width, ext)) = file.split_once('.') else {
        return 0;
    };
    let (Ok(width), Some(format)) = (width.parse::<u32>(), MediaFormat::from_extension(ext)) else {
        return 0;
    };
    let path = folder(root, &id).join(format!("{width}.{}", format.extension()));
    tokio::fs::metadata(&path).await.map_or(0, |m| m.len())
}

pub async fn serve(
    State(state): State<std::sync::Arc<AppState>>,
    UrlPath((id, file)): UrlPath<(String, String)>,
) -> Response {
    let not_found = || StatusCode::NOT_FOUND.into_response();
    let Some(id) = MediaId::parse(&id) else {
        return not_found();
    };
    let Some((width, ext)) = file.split_once('.') else {
        return not_found();
    };
    let (Ok(width), Some(format)) = (width.parse::<u32>(), MediaFormat::from_extension(ext)) else {
        return not_found();
    };
    // Only names this server wrote: digits, a dot, a known extension.
    let path = folder(&state.site.media_dir, &id).join(format!("{width}.{}", format.extension()));
    match tokio::fs::read(&path).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, format.content_type()),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            bytes,
        )
            .into_response(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => not_found(),
        Err(e) => {
            tracing::error!(error = %e, path = %path.display(), "could not read an image");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(image: DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, format).unwrap_or_default();
        out.into_inner()
    }

    #[test]
    fn renditions_are_made_in_the_right_format_and_size() {
        let photo = encode(
            DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
                1000,
                500,
                image::Rgb([9, 90, 200]),
            )),
            ImageFormat::Jpeg,
        );
        let done = process(&photo).expect("a JPEG is processed");
        assert_eq!(done.media.format, MediaFormat::Jpeg);
        assert_eq!((done.media.width, done.media.height), (1000, 500));
        assert_eq!(done.media.widths, [320, 640, 960, 1000]);
        for (w, bytes) in &done.files {
            let back = image::load_from_memory(bytes).expect("a rendition decodes");
            assert_eq!(
                (back.width(), back.height()),
                (*w, done.media.height_at(*w))
            );
        }
        let graphic = encode(
            DynamicImage::ImageRgba8(image::RgbaImage::new(100, 50)),
            ImageFormat::Png,
        );
        assert_eq!(
            process(&graphic).expect("a PNG").media.format,
            MediaFormat::Png
        );
    }

    #[test]
    fn what_is_no_image_is_refused_by_its_content() {
        assert!(matches!(process(b""), Err(MediaError::Empty)));
        assert!(matches!(
            process(b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"),
            Err(MediaError::NotAnImage(_))
        ));
        let gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;";
        let refused = process(gif)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(
            refused,
            "the file is not a JPEG, PNG or WebP image: its content is image/gif"
        );
        // A PNG header that claims a huge picture is refused before any pixel is allocated.
        let mut huge = encode(
            DynamicImage::ImageRgb8(image::RgbImage::new(1, 1)),
            ImageFormat::Png,
        );
        huge[16..20].copy_from_slice(&20_000u32.to_be_bytes());
        huge[20..24].copy_from_slice(&20_000u32.to_be_bytes());
        assert!(process(&huge).is_err());
        // A truncated JPEG is broken, not a crash.
        let photo = encode(
            DynamicImage::ImageRgb8(image::RgbImage::new(64, 64)),
            ImageFormat::Jpeg,
        );
        assert!(matches!(
            process(&photo[..photo.len() / 2]),
            Err(MediaError::Broken(_))
        ));
    }

    #[test]
    fn metadata_and_its_location_are_left_behind() {
        let photo = encode(
            DynamicImage::ImageRgb8(image::RgbImage::from_pixel(400, 300, image::Rgb([1, 2, 3]))),
            ImageFormat::Jpeg,
        );
        // An APP1 Exif segment after the start-of-image marker, as a phone camera writes one
        // with the place the picture was taken.
        let payload = b"Exif\0\0GPSLatitude 59.3293 GPSLongitude 18.0686";
        let length = u16::try_from(payload.len() + 2)
            .unwrap_or_default()
            .to_be_bytes();
        let mut tagged = photo[..2].to_vec();
        tagged.extend_from_slice(&[0xFF, 0xE1, length[0], length[1]]);
        tagged.extend_from_slice(payload);
        tagged.extend_from_slice(&photo[2..]);
        let done = process(&tagged).expect("a JPEG with Exif is processed");
        for (_, bytes) in &done.files {
            let found = bytes.windows(4).any(|w| w == b"Exif" || w == b"GPSL");
            assert!(!found, "a rendition kept the metadata");
        }
    }
}
