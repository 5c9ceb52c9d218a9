//! `write.reject_path`: each rejected record with its reason, opened on the
//! first, cut back to a checkpoint on resume.

use super::*;

/// `write.reject_path`, opened on the first reject.
pub(super) struct Rejects {
    pub(super) path: Option<PathBuf>,
    pub(super) out: Option<BufWriter<File>>,
    pub(super) bytes: u64,
}

impl Rejects {
    /// Opens at `length`: the reject file is cut back to what a checkpoint
    /// counts (0 on a fresh run, where the file was removed).
    pub(super) fn open(path: Option<&FsPath>, length: u64) -> Result<Rejects> {
        // Rejects written after the checkpoint belong to batches that are
        // sent again; a fresh run's file was removed, so this is a no-op.
        if let Some(path) = path {
            state::rewind("write.reject_path", path, length)?;
        }
        Ok(Rejects {
            path: path.map(FsPath::to_path_buf),
            out: None,
            bytes: length,
        })
    }

    pub(super) fn write(&mut self, batch: u64, rejected: &Rejected) -> Result<()> {
        let Some(path) = &self.path else {
            tracing::warn!(batch, reason = %rejected.reason, "record rejected");
            return Ok(());
        };
        let failed = |e| {
            Error::io(
                format!("cannot write write.reject_path `{}`", path.display()),
                e,
            )
        };
        let out = match &mut self.out {
            Some(out) => out,
            None => {
                state::make_folders(path).map_err(failed)?;
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(failed)?;
                self.out.insert(BufWriter::new(file))
            }
        };
        let mut line = Vec::with_capacity(rejected.record.len() + 128);
        line.extend_from_slice(b"{\"batch\":");
        crate::json::write_uint(batch, &mut line);
        line.extend_from_slice(b",\"status\":");
        match rejected.status {
            Some(status) => crate::json::write_uint(status.into(), &mut line),
            None => line.extend_from_slice(b"null"),
        }
        line.extend_from_slice(b",\"response\":");
        match &rejected.response {
            Some(response) => write_str(response, &mut line),
            None => line.extend_from_slice(b"null"),
        }
        line.extend_from_slice(b",\"reason\":");
        write_str(&rejected.reason, &mut line);
        if rejected.is_json {
            line.extend_from_slice(b",\"record\":");
            line.extend_from_slice(&rejected.record);
        } else {
            line.extend_from_slice(b",\"text\":");
            write_str(&String::from_utf8_lossy(&rejected.record), &mut line);
        }
        line.extend_from_slice(b"}\n");
        out.write_all(&line).map_err(failed)?;
        self.bytes += line.len() as u64;
        Ok(())
    }

    /// Makes every reject durable; answers the file's length.
    pub(super) fn sync(&mut self) -> Result<u64> {
        if let (Some(out), Some(path)) = (&mut self.out, &self.path) {
            let failed = |e| {
                Error::io(
                    format!("cannot write write.reject_path `{}`", path.display()),
                    e,
                )
            };
            out.flush().map_err(failed)?;
            out.get_ref().sync_data().map_err(failed)?;
        }
        Ok(self.bytes)
    }
}
