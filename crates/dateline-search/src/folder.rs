//! The index's folder: tantivy's memory-mapped directory, except for the stored documents.
//!
//! A search result's snippet or a story's neighbour list reads a few stored documents; growing
//! the neighbour graph reads every one in turn. Mapped, each page of them read once would stay
//! counted in the server's resident memory (gigabytes of an archive of a million stories), when
//! the system's page cache holds them as well. So a stored-documents file is read with `pread`,
//! a block at a time, and only a read of a large part of it (a merge copying the blocks of
//! segments into one) maps it, for as long as that read's bytes are used.

use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tantivy::directory::error::{DeleteError, LockError, OpenReadError, OpenWriteError};
use tantivy::directory::{
    DirectoryLock, FileHandle, Lock, MmapDirectory, OwnedBytes, WatchCallback, WatchHandle,
    WritePtr,
};
use tantivy::{Directory, HasLen};

/// Reads at least this long are served from a map of the file rather than a copy.
const MAPPED: usize = 1 << 20;

/// The index's folder (see the module's documentation).
#[derive(Debug, Clone)]
pub(crate) struct IndexFolder {
    mapped: MmapDirectory,
    root: PathBuf,
}

impl IndexFolder {
    pub(crate) fn open(
        root: &Path,
    ) -> Result<IndexFolder, tantivy::directory::error::OpenDirectoryError> {
        Ok(IndexFolder {
            mapped: MmapDirectory::open(root)?,
            root: root.to_path_buf(),
        })
    }
}

impl Directory for IndexFolder {
    fn get_file_handle(&self, path: &Path) -> Result<Arc<dyn FileHandle>, OpenReadError> {
        if path.extension().is_none_or(|e| e != "store") {
            return self.mapped.get_file_handle(path);
        }
        let file = File::open(self.root.join(path)).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => OpenReadError::FileDoesNotExist(path.to_path_buf()),
            _ => OpenReadError::wrap_io_error(e, path.to_path_buf()),
        })?;
        let len = file
            .metadata()
            .map_err(|e| OpenReadError::wrap_io_error(e, path.to_path_buf()))?
            .len();
        Ok(Arc::new(StoredFile {
            file,
            len: usize::try_from(len).unwrap_or(usize::MAX),
            mapped: self.mapped.clone(),
            path: path.to_path_buf(),
        }))
    }

    fn delete(&self, path: &Path) -> Result<(), DeleteError> {
        self.mapped.delete(path)
    }

    fn exists(&self, path: &Path) -> Result<bool, OpenReadError> {
        self.mapped.exists(path)
    }

    fn open_write(&self, path: &Path) -> Result<WritePtr, OpenWriteError> {
        self.mapped.open_write(path)
    }

    fn atomic_read(&self, path: &Path) -> Result<Vec<u8>, OpenReadError> {
        self.mapped.atomic_read(path)
    }

    fn atomic_write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        self.mapped.atomic_write(path, data)
    }

    fn sync_directory(&self) -> io::Result<()> {
        self.mapped.sync_directory()
    }

    fn acquire_lock(&self, lock: &Lock) -> Result<DirectoryLock, LockError> {
        self.mapped.acquire_lock(lock)
    }

    fn watch(&self, callback: WatchCallback) -> tantivy::Result<WatchHandle> {
        self.mapped.watch(callback)
    }
}

/// A stored-documents file, read where asked.
#[derive(Debug)]
struct StoredFile {
    file: File,
    len: usize,
    /// The folder, and the file's path in it, to map it for a large read.
    mapped: MmapDirectory,
    path: PathBuf,
}

impl FileHandle for StoredFile {
    fn read_bytes(&self, range: Range<usize>) -> io::Result<OwnedBytes> {
        if range.end > self.len || range.start > range.end {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("bytes {range:?} of a file of {}", self.len),
            ));
        }
        if range.len() >= MAPPED {
            // Mapped by tantivy's directory, which unmaps the file when the last of its bytes
            // are dropped.
            let whole = self
                .mapped
                .get_file_handle(&self.path)
                .map_err(|e| io::Error::other(e.to_string()))?;
            return whole.read_bytes(range);
        }
        let mut bytes = vec![0; range.len()];
        self.file.read_exact_at(&mut bytes, range.start as u64)?;
        Ok(OwnedBytes::new(bytes))
    }
}

impl HasLen for StoredFile {
    fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_documents_read_alike_by_the_block_and_whole() {
        let dir = tempfile::tempdir().expect("dir");
        let bytes: Vec<u8> = (0..3 * MAPPED as u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(dir.path().join("a.store"), &bytes).expect("write");
        std::fs::write(dir.path().join("a.idx"), &bytes[..100]).expect("write");
        let folder = IndexFolder::open(dir.path()).expect("open");
        let store = folder
            .get_file_handle(Path::new("a.store"))
            .expect("handle");
        assert_eq!(store.len(), bytes.len());
        for range in [0..10, 5_000..21_384, 0..bytes.len(), 7..2 * MAPPED + 7] {
            assert_eq!(
                store.read_bytes(range.clone()).expect("read").as_slice(),
                &bytes[range]
            );
        }
        assert!(store.read_bytes(10..bytes.len() + 1).is_err());
        let other = folder.get_file_handle(Path::new("a.idx")).expect("handle");
        assert_eq!(
            other.read_bytes(0..100).expect("read").as_slice(),
            &bytes[..100]
        );
        assert!(matches!(
            folder.get_file_handle(Path::new("gone.store")),
            Err(OpenReadError::FileDoesNotExist(_))
        ));
    }
}
