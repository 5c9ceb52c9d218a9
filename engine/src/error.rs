use std::fmt;

/// An error from the engine.
///
/// Opaque: ask it what kind it is with the `is_*` predicates. Its message
/// names the job key, URL or record at fault and never holds a secret.
pub struct Error {
    kind: Kind,
    message: String,
    /// A failure that may not happen again: a connection error, a timeout,
    /// a body cut short. Such requests are retried.
    transient: bool,
    /// The request never reached the server (the connection was not
    /// made): sending it again is safe whatever the method.
    unsent: bool,
    /// The final HTTP status, when the server answered.
    status: Option<u16>,
    /// The start of the server's answer, secrets redacted.
    response: Option<String>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The job file or the command line is wrong.
    Config,
    /// A request failed: connection, TLS, timeout, status.
    Http,
    /// A response could not be read as the job says.
    Data,
    /// More dirty records than `records.max_dirty`.
    DirtyLimit,
    /// Reading or writing a local file failed.
    Io,
    /// The embedder stopped the run (SIGINT, SIGTERM).
    Interrupted,
}

impl Error {
    pub(crate) fn new(kind: Kind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            transient: false,
            unsent: false,
            status: None,
            response: None,
            source: None,
        }
    }

    pub(crate) fn with_source(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        self.source = Some(Box::new(source));
        self
    }

    /// The same error, its message prefixed (naming the part of the job
    /// that failed).
    pub(crate) fn prefixed(mut self, prefix: &str) -> Error {
        self.message.insert_str(0, prefix);
        self
    }

    /// The same error, `redact` applied to its message.
    pub(crate) fn redacted(mut self, redact: impl Fn(&str) -> String) -> Error {
        self.message = redact(&self.message);
        self.response = self.response.map(|r| redact(&r));
        self
    }

    pub(crate) fn config(message: impl Into<String>) -> Error {
        Error::new(Kind::Config, message)
    }

    pub(crate) fn http(message: impl Into<String>) -> Error {
        Error::new(Kind::Http, message)
    }

    /// An HTTP failure that is worth retrying.
    pub(crate) fn transient(message: impl Into<String>) -> Error {
        Error {
            transient: true,
            ..Error::new(Kind::Http, message)
        }
    }

    pub(crate) fn is_transient(&self) -> bool {
        self.transient
    }

    /// The same error, marked as one where the request never left.
    pub(crate) fn unsent(mut self) -> Error {
        self.unsent = true;
        self
    }

    pub(crate) fn is_unsent(&self) -> bool {
        self.unsent
    }

    /// The same error, with the status and the start of the answer that
    /// caused it.
    pub(crate) fn answered(mut self, status: u16, response: String) -> Error {
        self.status = Some(status);
        self.response = Some(response);
        self
    }

    /// The same error, with the status of an answer whose body then
    /// could not be read.
    pub(crate) fn with_status(mut self, status: u16) -> Error {
        self.status = Some(status);
        self
    }

    /// Whether the output went away under the run: a reader of its
    /// standard output, such as `head`, stopped reading.
    pub fn is_broken_pipe(&self) -> bool {
        self.kind == Kind::Io
            && self
                .source
                .as_ref()
                .and_then(|s| s.downcast_ref::<std::io::Error>())
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    }

    /// The HTTP status that failed the request, when the server answered.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// The start of the failing answer's body, secrets redacted.
    pub(crate) fn response(&self) -> Option<&str> {
        self.response.as_deref()
    }

    /// The same error, its message followed by `suffix`.
    pub(crate) fn suffixed(mut self, suffix: &str) -> Error {
        self.message.push_str(suffix);
        self
    }

    pub(crate) fn data(message: impl Into<String>) -> Error {
        Error::new(Kind::Data, message)
    }

    pub(crate) fn io(message: impl Into<String>, source: std::io::Error) -> Error {
        Error::new(Kind::Io, message).with_source(source)
    }

    /// The job file, a `--var` or another option is wrong: a usage error.
    pub fn is_config(&self) -> bool {
        self.kind == Kind::Config
    }

    /// A request failed (connection, TLS, timeout or HTTP status).
    pub fn is_http(&self) -> bool {
        self.kind == Kind::Http
    }

    /// A response did not hold what the job says (malformed JSON, too big).
    pub fn is_data(&self) -> bool {
        self.kind == Kind::Data
    }

    /// More records were dirty than `records.max_dirty` allows.
    pub fn is_dirty_limit(&self) -> bool {
        self.kind == Kind::DirtyLimit
    }

    /// A local file could not be read or written.
    pub fn is_io(&self) -> bool {
        self.kind == Kind::Io
    }

    /// The run was stopped through its [`Interrupt`](crate::Interrupt).
    pub fn is_interrupted(&self) -> bool {
        self.kind == Kind::Interrupted
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// The engine's result: [`Error`] unless said otherwise.
pub type Result<T, E = Error> = std::result::Result<T, E>;
