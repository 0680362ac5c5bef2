//! File writes for certificates and keys: created with their final mode, atomically, and
//! never replacing a file unless told to.

use std::fs::Permissions;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::PkiError;

/// Writes `contents` to a new file at `path` with `mode`.
///
/// The data goes to a temporary file in the same directory, created with `mode` from the
/// start (a key is never readable by others, not even for a moment), synced, then moved into
/// place: without `overwrite` by a move that fails if `path` exists, with it by a rename, so
/// an existing file is replaced whole and its looser mode, if any, is not inherited.
///
/// # Errors
///
/// [`PkiError::FileExists`] when `path` exists and `overwrite` is false; [`PkiError::Io`] when
/// the directory is missing or not writable.
pub fn write_new(path: &Path, contents: &[u8], mode: u32, overwrite: bool) -> Result<(), PkiError> {
    let io = |action: &'static str| {
        move |source: std::io::Error| PkiError::Io {
            action,
            path: path.to_owned(),
            source,
        }
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    if !overwrite && path.exists() {
        return Err(PkiError::FileExists {
            path: path.to_owned(),
        });
    }

    let mut temp = tempfile::Builder::new()
        .prefix(".runner-")
        .permissions(Permissions::from_mode(mode))
        .tempfile_in(dir)
        .map_err(io("creating a temporary file for"))?;
    temp.write_all(contents).map_err(io("writing"))?;
    temp.as_file().sync_all().map_err(io("syncing"))?;

    if overwrite {
        temp.persist(path).map_err(|e| io("replacing")(e.error))?;
    } else {
        temp.persist_noclobber(path).map_err(|e| {
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                PkiError::FileExists {
                    path: path.to_owned(),
                }
            } else {
                io("creating")(e.error)
            }
        })?;
    }
    Ok(())
}

/// Reads a whole file as UTF-8 text.
///
/// # Errors
///
/// [`PkiError::Io`] when the file is missing, unreadable or not UTF-8.
pub fn read_text(path: &Path) -> Result<String, PkiError> {
    std::fs::read_to_string(path).map_err(|source| PkiError::Io {
        action: "reading",
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_with_the_mode_and_refuses_to_clobber() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.key");
        write_new(&path, b"one", 0o600, false).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);

        let err = write_new(&path, b"two", 0o600, false).unwrap_err();
        assert!(matches!(err, PkiError::FileExists { .. }), "{err:?}");
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
    }

    #[test]
    fn overwrite_replaces_and_tightens_a_loose_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.key");
        std::fs::write(&path, b"old").unwrap();
        std::fs::set_permissions(&path, Permissions::from_mode(0o644)).unwrap();

        write_new(&path, b"new", 0o600, true).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn names_the_path_when_the_directory_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing/a.crt");
        let err = write_new(&path, b"x", 0o644, false).unwrap_err();
        assert!(err.to_string().contains("missing/a.crt"), "{err}");
    }
}
