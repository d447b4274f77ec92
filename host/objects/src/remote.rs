//! The shared store: a directory (e.g. on NFS) or an S3-compatible bucket.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use tokio::io::AsyncReadExt;

use crate::error::{Error, IoContext, Result};
use crate::verify::{Hasher, VerifiedWrite, check_hash};

/// The smallest part S3 accepts in a multipart upload (except the last).
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;

/// The default multipart part size; files larger than this are uploaded in
/// parts of this size.
pub const DEFAULT_PART_SIZE: usize = 16 * 1024 * 1024;

/// How many parts of one upload are in flight at once (each holds a part in
/// memory).
const PART_CONCURRENCY: usize = 4;

/// How much of a file is read at a time.
const READ_CHUNK: usize = 1024 * 1024;

/// A shared artifact store that several workers read and write.
///
/// Objects are named by the SHA-256 of their content: `ROOT/sha256/ab/<hash>`
/// in a directory, `PREFIX/sha256/ab/<hash>` in a bucket (`ab` being the
/// first two hex digits). An object is never visible under its hash before
/// it is complete: a directory write goes to a temporary in the same directory
/// and is renamed into place; an S3 PUT (or a completed multipart upload) is
/// atomic. Content is verified against its hash on upload and on fetch.
///
/// Cheap to clone (the S3 client is shared).
#[derive(Clone)]
pub struct Remote {
    backend: Backend,
    part_size: usize,
}

#[derive(Clone)]
enum Backend {
    Directory {
        root: PathBuf,
    },
    S3 {
        store: Arc<AmazonS3>,
        bucket: String,
        prefix: String,
        endpoint: Option<String>,
        region: String,
    },
}

impl fmt::Debug for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Remote").field(&self.describe()).finish()
    }
}

impl Remote {
    /// A directory remote at `root` (created on the first upload).
    pub fn directory(root: impl Into<PathBuf>) -> Self {
        Self {
            backend: Backend::Directory { root: root.into() },
            part_size: DEFAULT_PART_SIZE,
        }
    }

    /// Parses a remote spec:
    ///
    /// * a plain path, or `file:///abs/path`: a [directory](Remote::directory);
    /// * `s3://bucket[/prefix][?endpoint=URL&region=REGION]`: an S3-compatible
    ///   bucket. With `endpoint` (e.g. `http://127.0.0.1:9000`) requests go
    ///   there, path-style, plain `http` allowed; without it, to AWS. The
    ///   region is `region`, else `AWS_REGION` / `AWS_DEFAULT_REGION`, else
    ///   `us-east-1`. Credentials come from the environment as for any AWS
    ///   client (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    ///   `AWS_SESSION_TOKEN`, web identity, container or instance
    ///   credentials), never from the spec. Where the data goes is the spec's
    ///   alone: `AWS_ENDPOINT*`, `AWS_BUCKET` and `AWS_ALLOW_HTTP` are ignored.
    ///
    /// Errors ([`Error::Spec`]) name what was wrong.
    pub fn parse(spec: &str) -> Result<Self> {
        let bad = |reason: String| Error::Spec {
            spec: spec.to_owned(),
            reason,
        };
        if spec.trim().is_empty() {
            return Err(bad(
                "empty; expected a directory path, file:///path or s3://bucket/prefix".to_owned(),
            ));
        }
        if spec.starts_with("s3://") {
            return parse_s3(spec).map_err(bad);
        }
        if spec.starts_with("file:") {
            let url = url::Url::parse(spec).map_err(|e| bad(format!("not a file URL: {e}")))?;
            if !matches!(url.host_str(), None | Some("") | Some("localhost")) {
                return Err(bad(format!(
                    "a file URL names a path on this machine: expected file:///path, not host {:?}",
                    url.host_str().unwrap_or_default()
                )));
            }
            if url.query().is_some() || url.fragment().is_some() {
                return Err(bad("a file URL takes no query or fragment".to_owned()));
            }
            let path = url
                .to_file_path()
                .map_err(|()| bad("expected an absolute path: file:///abs/path".to_owned()))?;
            return Ok(Self::directory(path));
        }
        if let Some((scheme, _)) = spec.split_once("://") {
            return Err(bad(format!(
                "unsupported scheme {scheme:?}: expected a directory path, file:///path or s3://bucket/prefix"
            )));
        }
        Ok(Self::directory(spec))
    }

    /// The part size of multipart uploads to S3 (files larger than it are
    /// uploaded in parts); at least [`MIN_PART_SIZE`]. The default is
    /// [`DEFAULT_PART_SIZE`]. No effect on a directory remote.
    pub fn with_part_size(mut self, bytes: usize) -> Result<Self> {
        if bytes < MIN_PART_SIZE {
            return Err(Error::Spec {
                spec: self.describe(),
                reason: format!("part size {bytes} is below S3's minimum of {MIN_PART_SIZE} bytes"),
            });
        }
        self.part_size = bytes;
        Ok(self)
    }

    /// The remote for logs: the directory, or the bucket, prefix, endpoint and
    /// region (never credentials).
    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::Directory { root } => format!("directory {}", root.display()),
            Backend::S3 {
                bucket,
                prefix,
                endpoint,
                region,
                ..
            } => {
                let mut out = format!("s3://{bucket}");
                if !prefix.is_empty() {
                    out.push('/');
                    out.push_str(prefix);
                }
                match endpoint {
                    Some(endpoint) => {
                        out.push_str(&format!(" (endpoint {endpoint}, region {region})"))
                    }
                    None => out.push_str(&format!(" (AWS, region {region})")),
                }
                out
            }
        }
    }

    /// Checks that the remote is there, for a worker to call at start: the
    /// directory exists (a missing mount is an error, not an empty store), or
    /// the bucket answers a listing. Object lookups cannot tell a missing
    /// bucket from a missing object (S3 answers 404 to both), so without
    /// this a wrong bucket only looks like an empty one.
    pub async fn check(&self) -> Result<()> {
        match &self.backend {
            Backend::Directory { root } => match tokio::fs::metadata(root).await {
                Ok(meta) if meta.is_dir() => Ok(()),
                Ok(_) => Err(Error::Io {
                    context: format!("checking {}", self.describe()),
                    error: std::io::Error::other("not a directory"),
                }),
                Err(error) => Err(Error::Io {
                    context: format!("checking {}", self.describe()),
                    error,
                }),
            },
            Backend::S3 { store, prefix, .. } => {
                let under = (!prefix.is_empty()).then(|| ObjectPath::from(prefix.as_str()));
                store
                    .list_with_delimiter(under.as_ref())
                    .await
                    .map(|_| ())
                    .map_err(|error| Error::Remote {
                        context: format!("checking {}", self.describe()),
                        error,
                    })
            }
        }
    }

    /// Whether the remote holds the object `hash`.
    pub async fn has(&self, hash: &str) -> Result<bool> {
        check_hash(hash)?;
        match &self.backend {
            Backend::Directory { root } => {
                let path = directory_path(root, hash);
                match tokio::fs::metadata(&path).await {
                    Ok(meta) => Ok(meta.is_file()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
                    Err(e) => Err(Error::Io {
                        context: format!("looking for {}", path.display()),
                        error: e,
                    }),
                }
            }
            Backend::S3 { store, prefix, .. } => {
                let key = object_key(prefix, hash);
                match store.head(&key).await {
                    Ok(_) => Ok(true),
                    Err(object_store::Error::NotFound { .. }) => Ok(false),
                    Err(error) => Err(Error::Remote {
                        context: format!("looking for {hash} in {}", self.describe()),
                        error,
                    }),
                }
            }
        }
    }

    /// Uploads `file` as the object `hash`, unless the remote already has it.
    ///
    /// The file's SHA-256 is computed while it is read; if it is not `hash`,
    /// nothing is published ([`Error::Mismatch`]). Files larger than the part
    /// size go to S3 as a multipart upload, read part by part (never whole
    /// into memory); the object appears only when the upload completes, and a
    /// failed upload is aborted.
    pub async fn put_file(&self, hash: &str, file: &Path) -> Result<()> {
        check_hash(hash)?;
        if self.has(hash).await? {
            return Ok(());
        }
        match &self.backend {
            Backend::Directory { root } => put_directory(root, hash, file).await,
            Backend::S3 { store, prefix, .. } => {
                let key = object_key(prefix, hash);
                put_s3(store, &key, hash, file, self.part_size, &self.describe()).await
            }
        }
    }

    /// Downloads the object `hash` to `to`: `Ok(false)` if the remote does not
    /// have it.
    ///
    /// The content streams to a temporary beside `to` (unique per call, so
    /// concurrent fetches of one hash are safe) while its SHA-256 is computed;
    /// on a match it is renamed to `to` (replacing any file there), otherwise
    /// the temporary is removed, nothing is written at `to`, and the error
    /// ([`Error::Mismatch`]) names the hash and what came back. `to`'s
    /// directory is created if missing.
    pub async fn fetch(&self, hash: &str, to: &Path) -> Result<bool> {
        check_hash(hash)?;
        match &self.backend {
            Backend::Directory { root } => {
                let path = directory_path(root, hash);
                let mut source = match tokio::fs::File::open(&path).await {
                    Ok(source) => source,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
                    Err(e) => {
                        return Err(Error::Io {
                            context: format!("opening {}", path.display()),
                            error: e,
                        });
                    }
                };
                let mut out = VerifiedWrite::create(hash, to).await?;
                let mut buf = vec![0; READ_CHUNK];
                loop {
                    let n = source
                        .read(&mut buf)
                        .await
                        .io_context(|| format!("reading {}", path.display()))?;
                    if n == 0 {
                        break;
                    }
                    out.write(&buf[..n]).await?;
                }
                out.finish(&path.display().to_string()).await?;
                Ok(true)
            }
            Backend::S3 { store, prefix, .. } => {
                let key = object_key(prefix, hash);
                let context = || format!("fetching {hash} from {}", self.describe());
                let got = match store.get(&key).await {
                    Ok(got) => got,
                    Err(object_store::Error::NotFound { .. }) => return Ok(false),
                    Err(error) => {
                        return Err(Error::Remote {
                            context: context(),
                            error,
                        });
                    }
                };
                let mut out = VerifiedWrite::create(hash, to).await?;
                let mut stream = got.into_stream();
                while let Some(chunk) = stream.next().await {
                    let chunk = chunk.map_err(|error| Error::Remote {
                        context: context(),
                        error,
                    })?;
                    out.write(&chunk).await?;
                }
                out.finish(&self.describe()).await?;
                Ok(true)
            }
        }
    }
}

/// `ROOT/sha256/ab/<hash>`.
fn directory_path(root: &Path, hash: &str) -> PathBuf {
    root.join("sha256").join(&hash[..2]).join(hash)
}

/// `PREFIX/sha256/ab/<hash>`.
fn object_key(prefix: &str, hash: &str) -> ObjectPath {
    let key = if prefix.is_empty() {
        format!("sha256/{}/{hash}", &hash[..2])
    } else {
        format!("{prefix}/sha256/{}/{hash}", &hash[..2])
    };
    // The prefix was checked by `Path::parse` and the rest is hex.
    ObjectPath::from(key)
}

fn parse_s3(spec: &str) -> std::result::Result<Remote, String> {
    let url = url::Url::parse(spec).map_err(|e| format!("not a URL: {e}"))?;
    let bucket = url.host_str().unwrap_or_default().to_owned();
    if bucket.is_empty() {
        return Err("no bucket: expected s3://bucket/prefix".to_owned());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "credentials do not belong in the spec: set AWS_ACCESS_KEY_ID and \
                    AWS_SECRET_ACCESS_KEY"
                .to_owned(),
        );
    }
    if url.port().is_some() {
        return Err(
            "a bucket has no port: give the server as ?endpoint=http://host:port".to_owned(),
        );
    }
    if url.fragment().is_some() {
        return Err("unexpected fragment (#...)".to_owned());
    }
    let prefix = url.path().trim_matches('/').to_owned();
    if !prefix.is_empty() {
        ObjectPath::parse(&prefix).map_err(|e| format!("bad prefix {prefix:?}: {e}"))?;
    }

    let mut endpoint = None;
    let mut region = None;
    for (key, value) in url.query_pairs() {
        match &*key {
            "endpoint" => {
                let parsed = url::Url::parse(&value)
                    .map_err(|e| format!("endpoint {value:?} is not a URL: {e}"))?;
                if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
                    return Err(format!(
                        "endpoint {value:?}: expected http://host[:port] or https://host[:port]"
                    ));
                }
                if !parsed.username().is_empty() || parsed.password().is_some() {
                    return Err("credentials do not belong in the endpoint: set \
                                AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
                        .to_owned());
                }
                if endpoint
                    .replace(value.trim_end_matches('/').to_owned())
                    .is_some()
                {
                    return Err("endpoint given twice".to_owned());
                }
            }
            "region" => {
                if value.is_empty() {
                    return Err("empty region".to_owned());
                }
                if region.replace(value.into_owned()).is_some() {
                    return Err("region given twice".to_owned());
                }
            }
            other => {
                return Err(format!(
                    "unknown parameter {other:?}: expected endpoint and region"
                ));
            }
        }
    }
    let region = region
        .or_else(|| std::env::var("AWS_REGION").ok().filter(|r| !r.is_empty()))
        .or_else(|| {
            std::env::var("AWS_DEFAULT_REGION")
                .ok()
                .filter(|r| !r.is_empty())
        })
        .unwrap_or_else(|| "us-east-1".to_owned());

    // reqwest is built with rustls but no bundled crypto provider: use ring,
    // the one the rest of the workspace links. An already installed provider
    // is kept (`Err` here only says there is one).
    let _ = rustls::crypto::ring::default_provider().install_default();

    let mut builder = AmazonS3Builder::new();
    for (key, value) in std::env::vars() {
        if !key.starts_with("AWS_") {
            continue;
        }
        let Ok(config) = key.to_ascii_lowercase().parse::<AmazonS3ConfigKey>() else {
            continue;
        };
        // Credentials and signing from the environment; where the data goes
        // only from the spec.
        let skipped = matches!(
            config,
            AmazonS3ConfigKey::Bucket
                | AmazonS3ConfigKey::Endpoint
                | AmazonS3ConfigKey::S3Endpoint
                | AmazonS3ConfigKey::Region
                | AmazonS3ConfigKey::DefaultRegion
                | AmazonS3ConfigKey::VirtualHostedStyleRequest
                | AmazonS3ConfigKey::Client(_)
        );
        if !skipped {
            builder = builder.with_config(config, value);
        }
    }
    builder = builder.with_bucket_name(&bucket).with_region(&region);
    if let Some(endpoint) = &endpoint {
        builder = builder
            .with_endpoint(endpoint)
            .with_allow_http(endpoint.starts_with("http://"))
            .with_virtual_hosted_style_request(false);
    }
    let store = builder
        .build()
        .map_err(|e| format!("cannot configure the S3 client: {e}"))?;
    Ok(Remote {
        backend: Backend::S3 {
            store: Arc::new(store),
            bucket,
            prefix,
            endpoint,
            region,
        },
        part_size: DEFAULT_PART_SIZE,
    })
}

/// Copies `file` into a temporary beside `ROOT/sha256/ab/<hash>`, checking
/// its hash on the way, then renames it into place.
async fn put_directory(root: &Path, hash: &str, file: &Path) -> Result<()> {
    let to = directory_path(root, hash);
    let mut source = tokio::fs::File::open(file)
        .await
        .io_context(|| format!("opening {}", file.display()))?;
    let mut out = VerifiedWrite::create(hash, &to).await?;
    let mut buf = vec![0; READ_CHUNK];
    loop {
        let n = source
            .read(&mut buf)
            .await
            .io_context(|| format!("reading {}", file.display()))?;
        if n == 0 {
            break;
        }
        out.write(&buf[..n]).await?;
    }
    out.finish(&file.display().to_string()).await
}

/// One PUT for a file up to `part_size`, else a multipart upload whose parts
/// are read from the file as they go; the hash is checked before the PUT, or
/// before completing the upload (aborted on a mismatch or any failure).
async fn put_s3(
    store: &AmazonS3,
    key: &ObjectPath,
    hash: &str,
    file: &Path,
    part_size: usize,
    remote: &str,
) -> Result<()> {
    let context = || format!("uploading {} as {hash} to {remote}", file.display());
    let mut source = tokio::fs::File::open(file)
        .await
        .io_context(|| format!("opening {}", file.display()))?;
    let size = source
        .metadata()
        .await
        .io_context(|| format!("reading the size of {}", file.display()))?
        .len();

    if size <= part_size as u64 {
        let mut data = Vec::with_capacity(size as usize);
        source
            .read_to_end(&mut data)
            .await
            .io_context(|| format!("reading {}", file.display()))?;
        let mut hasher = Hasher::default();
        hasher.update(&data);
        check_upload(hasher, hash, file)?;
        store
            .put(key, PutPayload::from(data))
            .await
            .map_err(|error| Error::Remote {
                context: context(),
                error,
            })?;
        return Ok(());
    }

    let upload = store
        .put_multipart(key)
        .await
        .map_err(|error| Error::Remote {
            context: context(),
            error,
        })?;
    let mut upload = WriteMultipart::new_with_chunk_size(upload, part_size);
    let mut hasher = Hasher::default();
    let mut buf = vec![0; READ_CHUNK];
    let failure = loop {
        let n = match source.read(&mut buf).await {
            Ok(0) => break check_upload(hasher, hash, file).err(),
            Ok(n) => n,
            Err(error) => {
                break Some(Error::Io {
                    context: format!("reading {}", file.display()),
                    error,
                });
            }
        };
        hasher.update(&buf[..n]);
        // At most PART_CONCURRENCY parts in flight (and in memory).
        if let Err(error) = upload.wait_for_capacity(PART_CONCURRENCY).await {
            break Some(Error::Remote {
                context: context(),
                error,
            });
        }
        upload.write(&buf[..n]);
    };
    if let Some(failure) = failure {
        // The parts already sent are discarded; nothing appears under the key.
        // A failed abort leaves an incomplete upload the bucket's lifecycle
        // rule cleans up; the original failure is the one to report.
        let _ = upload.abort().await;
        return Err(failure);
    }
    // `finish` aborts the upload itself when it fails.
    upload.finish().await.map_err(|error| Error::Remote {
        context: context(),
        error,
    })?;
    Ok(())
}

fn check_upload(hasher: Hasher, hash: &str, file: &Path) -> Result<()> {
    let (actual, bytes) = hasher.finish();
    if actual == hash {
        Ok(())
    } else {
        Err(Error::Mismatch {
            hash: hash.to_owned(),
            actual,
            bytes,
            from: file.display().to_string(),
        })
    }
}
