//! Uploaded images: checked by their content, decoded within limits, turned upright, resized
//! into renditions and re-encoded (which leaves every metadata block behind, location
//! included), written beside the database, and served for ever under addresses named by a
//! digest of the upload.

use std::io::Cursor;
use std::path::Path;

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
    #[error("the image store: {0}")]
    Store(String),
}

/// A decoded upload's renditions, ready to be written.
#[derive(Debug)]
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

/// Where uploaded images' renditions are kept: a local folder (the default, each node its own)
/// or any S3-compatible object store (shared by every node), through the `object_store` crate.
#[derive(Clone)]
pub struct MediaStore {
    store: std::sync::Arc<dyn object_store::ObjectStore>,
    /// Where it is, for logs: the folder or the URL.
    pub location: String,
}

impl std::fmt::Debug for MediaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaStore")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl MediaStore {
    /// A folder on this machine, made if it is not there.
    pub fn folder(root: &Path) -> Result<MediaStore, MediaError> {
        std::fs::create_dir_all(root)?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(root)
            .map_err(|e| MediaError::Store(e.to_string()))?;
        Ok(MediaStore {
            store: std::sync::Arc::new(store),
            location: root.display().to_string(),
        })
    }

    /// An S3-compatible bucket, `s3://bucket` or `s3://bucket/prefix`, with its credentials,
    /// region and endpoint (for a store other than Amazon's) from the `AWS_*` variables.
    pub fn s3(url: &str) -> Result<MediaStore, MediaError> {
        let parsed = url::Url::parse(url).map_err(|e| MediaError::Store(format!("{url}: {e}")))?;
        let prefix = parsed.path().trim_matches('/').to_string();
        let store = object_store::aws::AmazonS3Builder::from_env()
            .with_url(url)
            .build()
            .map_err(|e| MediaError::Store(format!("{url}: {e}")))?;
        let store: std::sync::Arc<dyn object_store::ObjectStore> = if prefix.is_empty() {
            std::sync::Arc::new(store)
        } else {
            std::sync::Arc::new(object_store::prefix::PrefixStore::new(store, prefix))
        };
        Ok(MediaStore {
            store,
            location: url.to_string(),
        })
    }

    /// Where a rendition of an image is kept.
    fn path(id: &MediaId, width: u32, format: MediaFormat) -> object_store::path::Path {
        object_store::path::Path::from(format!("{}/{width}.{}", id.as_str(), format.extension()))
    }

    /// Writes an image's renditions. Each is written whole or not at all (a local folder's
    /// through a temporary file renamed into place), so a reader never sees half a file.
    pub async fn write(&self, processed: &Processed) -> Result<(), MediaError> {
        for (w, bytes) in &processed.files {
            // Named by the digest of the upload: writing one that is there writes the same bytes
            // (and asks an S3 store nothing it may refuse to tell, as a HEAD of a missing key).
            let path = MediaStore::path(&processed.media.id, *w, processed.media.format);
            self.store
                .put(&path, bytes.clone().into())
                .await
                .map_err(|e| MediaError::Store(e.to_string()))?;
        }
        Ok(())
    }

    /// The size in bytes of the rendition a site address (`/media/{id}/{width}.{ext}`) names,
    /// or 0 when it names none.
    pub async fn stored_size(&self, address: &str) -> u64 {
        let Some((id, width, format)) = address.strip_prefix("/media/").and_then(parse_file) else {
            return 0;
        };
        self.store
            .head(&MediaStore::path(&id, width, format))
            .await
            .map_or(0, |m| m.size)
    }
}

/// The image, width and format that `{id}/{width}.{ext}` names; only names this server writes.
fn parse_file(rest: &str) -> Option<(MediaId, u32, MediaFormat)> {
    let (id, file) = rest.split_once('/')?;
    let (width, ext) = file.split_once('.')?;
    Some((
        MediaId::parse(id)?,
        width.parse::<u32>().ok()?,
        MediaFormat::from_extension(ext)?,
    ))
}

/// `GET /media/{id}/{file}`: a rendition, which never changes.
pub async fn serve(
    State(state): State<std::sync::Arc<AppState>>,
    UrlPath((id, file)): UrlPath<(String, String)>,
) -> Response {
    let not_found = || StatusCode::NOT_FOUND.into_response();
    let Some((id, width, format)) = parse_file(&format!("{id}/{file}")) else {
        return not_found();
    };
    let media = &state.site.media;
    let path = MediaStore::path(&id, width, format);
    let read = match media.store.get(&path).await {
        Ok(found) => found.bytes().await,
        Err(e) => Err(e),
    };
    match read {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, format.content_type()),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            bytes,
        )
            .into_response(),
        Err(object_store::Error::NotFound { .. }) => not_found(),
        Err(e) => {
            tracing::error!(error = %e, %path, store = %media.location, "could not read an image");
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
