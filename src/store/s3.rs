//! A store in an S3 bucket (AWS or any S3-compatible server), through the
//! `object_store` crate, driven from synchronous code on a small runtime.

use std::io::{self, Read};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::list::{PaginatedListOptions, PaginatedListStore};
use object_store::path::Path as ObjectPath;
use object_store::{ClientOptions, ObjectStoreExt, PutPayload, RetryConfig, WriteMultipart};
use tokio::runtime::Runtime;

use super::chunks::ChunkReader;
use super::{KeyError, ObjectInfo, RemoteKind, StoreError};

/// Objects larger than this are uploaded in parts.
const MULTIPART_THRESHOLD: usize = 16 << 20;
/// Size of each part of a multipart upload.
const PART_SIZE: usize = 16 << 20;
/// Parts in flight at once: bounds an upload's memory to about 64 MiB.
const PARTS_IN_FLIGHT: usize = 4;

/// The environment variables whose values must never be shown.
const SECRET_VARS: [&str; 2] = ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"];

/// A bucket and a prefix in it.
pub struct S3Store {
    client: Arc<AmazonS3>,
    /// Why requests cannot be made (no credentials), reported by the first
    /// one: catalog-only commands work without credentials.
    unusable: Option<String>,
    bucket: String,
    prefix: String,
    endpoint: String,
    rt: Arc<Runtime>,
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "S3Store(s3://{}/{})", self.bucket, self.prefix)
    }
}

/// Replaces the values of secret environment variables in `text`.
pub fn redact(text: &str) -> String {
    let secrets: Vec<String> = SECRET_VARS
        .iter()
        .filter_map(|var| std::env::var(var).ok())
        .collect();
    redact_with(text, &secrets)
}

fn redact_with(text: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .filter(|s| !s.is_empty())
        .fold(text.to_owned(), |out, secret| {
            out.replace(secret.as_str(), "***")
        })
}

impl S3Store {
    /// Connects (lazily: nothing is sent yet) to `bucket` with the standard
    /// AWS variables; path-style requests, bounded retries and timeouts.
    pub fn open(bucket: &str, prefix: &str) -> Result<S3Store, StoreError> {
        let remote = |message: String| StoreError::Remote {
            action: "configuring S3 for",
            key: format!("s3://{bucket}"),
            message,
            kind: RemoteKind::Config,
        };
        // Without keys object_store would ask an instance metadata service;
        // credentials come from the AWS variables only.
        let unusable = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
            .into_iter()
            .find(|var| std::env::var_os(var).is_none_or(|v| v.is_empty()))
            .map(|var| {
                format!("{var} is not set (S3 credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
            });
        // Client options set here replace the ones `from_env` read, so
        // AWS_ALLOW_HTTP is carried over by hand.
        let allow_http = std::env::var("AWS_ALLOW_HTTP")
            .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes"));
        // Unusable: a client that never signs, only to have one.
        let builder = match unusable {
            None => AmazonS3Builder::from_env(),
            Some(_) => AmazonS3Builder::new().with_skip_signature(true),
        };
        let builder = builder
            .with_bucket_name(bucket)
            .with_virtual_hosted_style_request(false)
            .with_retry(RetryConfig {
                max_retries: 2,
                retry_timeout: Duration::from_secs(20),
                ..RetryConfig::default()
            })
            .with_client_options(
                ClientOptions::new()
                    .with_allow_http(allow_http)
                    .with_connect_timeout(Duration::from_secs(5))
                    .with_timeout(Duration::from_secs(300)),
            );
        let endpoint = std::env::var("AWS_ENDPOINT_URL")
            .or_else(|_| std::env::var("AWS_ENDPOINT"))
            .unwrap_or_else(|_| "https://s3.amazonaws.com".to_owned());
        let client = builder
            .build()
            .map_err(|e| remote(redact(&e.to_string())))?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| remote(e.to_string()))?;
        Ok(S3Store {
            client: Arc::new(client),
            unusable,
            bucket: bucket.to_owned(),
            prefix: prefix.trim_matches('/').to_owned(),
            endpoint,
            rt: Arc::new(rt),
        })
    }

    /// Fails if requests cannot be made.
    fn usable(&self) -> Result<(), StoreError> {
        match &self.unusable {
            Some(reason) => Err(StoreError::Remote {
                action: "using",
                key: format!("s3://{}", self.bucket),
                message: reason.clone(),
                kind: RemoteKind::Denied,
            }),
            None => Ok(()),
        }
    }

    /// The object path of `key`; fails first if requests cannot be made.
    fn path(&self, key: &str) -> Result<ObjectPath, StoreError> {
        self.usable()?;
        self.object_path(key)
    }

    fn object_path(&self, key: &str) -> Result<ObjectPath, StoreError> {
        let full = if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}/{key}", self.prefix)
        };
        ObjectPath::parse(&full).map_err(|_| {
            StoreError::Key(KeyError::BadCharacter {
                key: key.to_owned(),
                what: "a control character",
            })
        })
    }

    /// One line saying what went wrong, never with a secret in it.
    fn error(&self, action: &'static str, key: &str, err: object_store::Error) -> StoreError {
        match describe(&err, &self.bucket, &self.endpoint) {
            None => StoreError::NotFound {
                key: key.to_owned(),
            },
            Some((kind, message)) => self.remote(action, key, kind, message),
        }
    }

    fn remote(
        &self,
        action: &'static str,
        key: &str,
        kind: RemoteKind,
        message: String,
    ) -> StoreError {
        StoreError::Remote {
            kind,
            action,
            key: format!(
                "s3://{}/{}",
                self.bucket,
                self.object_path(key)
                    .map(|p| p.to_string())
                    .unwrap_or_default()
            ),
            message: redact(&message),
        }
    }

    /// Uploads everything `reader` yields to `key`: one request when small,
    /// parts otherwise. Returns the bytes sent.
    pub fn put(&self, key: &str, reader: &mut dyn Read) -> Result<u64, StoreError> {
        let path = self.path(key)?;
        // Parts are uploaded by tasks spawned on this runtime.
        let _runtime = self.rt.enter();
        let read_err = |source| StoreError::Io {
            action: "reading data for",
            key: key.to_owned(),
            source,
        };
        let first = read_chunk(reader, MULTIPART_THRESHOLD).map_err(read_err)?;
        if first.len() < MULTIPART_THRESHOLD {
            let n = first.len() as u64;
            self.rt
                .block_on(self.client.put(&path, PutPayload::from(first)))
                .map_err(|e| self.error("uploading", key, e))?;
            return Ok(n);
        }
        let upload = self
            .rt
            .block_on(self.client.put_multipart(&path))
            .map_err(|e| self.error("uploading", key, e))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut total = first.len() as u64;
        writer.put(Bytes::from(first));
        let result: Result<(), StoreError> = (|| loop {
            self.rt
                .block_on(writer.wait_for_capacity(PARTS_IN_FLIGHT))
                .map_err(|e| self.error("uploading", key, e))?;
            let chunk = read_chunk(reader, PART_SIZE).map_err(read_err)?;
            if chunk.is_empty() {
                return Ok(());
            }
            total += chunk.len() as u64;
            writer.put(Bytes::from(chunk));
        })();
        match result {
            Ok(()) => {
                self.rt
                    .block_on(writer.finish())
                    .map_err(|e| self.error("uploading", key, e))?;
                Ok(total)
            }
            Err(e) => {
                let _ = self.rt.block_on(writer.abort());
                Err(e)
            }
        }
    }

    /// Streams the object `key`.
    pub fn get(&self, key: &str) -> Result<Box<dyn Read + Send>, StoreError> {
        let path = self.path(key)?;
        let result = self
            .rt
            .block_on(self.client.get(&path))
            .map_err(|e| self.error("downloading", key, e))?;
        let rt = self.rt.clone();
        let mut stream = result.into_stream();
        Ok(Box::new(ChunkReader::new(move || {
            rt.block_on(stream.next())
                .map(|chunk| chunk.map_err(|e| io::Error::other(redact(&e.to_string()))))
        })))
    }

    pub fn exists(&self, key: &str) -> Result<bool, StoreError> {
        let path = self.path(key)?;
        match self.rt.block_on(self.client.head(&path)) {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(head_err) => {
                // A HEAD answer has no body to say why; a GET's does.
                let err = match self.rt.block_on(self.client.get_range(&path, 0..1)) {
                    Err(get_err) => get_err,
                    Ok(_) => head_err,
                };
                match self.error("checking", key, err) {
                    StoreError::NotFound { .. } => Ok(false),
                    other => Err(other),
                }
            }
        }
    }

    pub fn delete(&self, key: &str) -> Result<(), StoreError> {
        if !self.exists(key)? {
            return Err(StoreError::NotFound {
                key: key.to_owned(),
            });
        }
        let path = self.path(key)?;
        self.rt
            .block_on(self.client.delete(&path))
            .map_err(|e| self.error("deleting", key, e))
    }

    /// Deletes the objects `keys` with batch requests (up to 1,000 keys
    /// each); those already gone are no error.
    pub fn delete_all(&self, keys: &[String]) -> Result<(), StoreError> {
        self.usable()?;
        let paths = keys
            .iter()
            .map(|k| self.path(k))
            .collect::<Result<Vec<_>, _>>()?;
        let client = self.client.clone();
        self.rt
            .block_on(async move {
                let stream = futures::stream::iter(paths.into_iter().map(Ok)).boxed();
                let mut results = object_store::ObjectStore::delete_stream(&*client, stream);
                while let Some(result) = results.next().await {
                    match result {
                        Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(())
            })
            .map_err(|e| self.error("deleting", keys.first().map_or("", |k| k.as_str()), e))
    }

    /// Keys (relative to the store's prefix) that start with `prefix`,
    /// after `start_after`, in key order, at most `limit`: S3 lists from
    /// `start_after` itself, a page of `limit` keys per request.
    pub fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ObjectInfo>, StoreError> {
        self.usable()?;
        let base = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        let client = self.client.clone();
        let full_prefix = format!("{base}{prefix}");
        let mut offset = start_after.map(|a| format!("{base}{a}"));
        self.rt
            .block_on(async move {
                let mut out = Vec::new();
                let mut token = None;
                while out.len() < limit {
                    let page = client
                        .list_paginated(
                            Some(&full_prefix),
                            PaginatedListOptions {
                                offset: offset.clone(),
                                max_keys: Some(limit - out.len()),
                                page_token: token.take(),
                                ..PaginatedListOptions::default()
                            },
                        )
                        .await?;
                    for meta in page.result.objects {
                        let key = meta.location.to_string();
                        let key = key.strip_prefix(&base).unwrap_or(&key).to_owned();
                        out.push(ObjectInfo {
                            key,
                            size: meta.size,
                            modified: Some(meta.last_modified.into()),
                        });
                    }
                    match page.page_token {
                        Some(next) => token = Some(next),
                        None => break,
                    }
                    offset = None;
                }
                out.truncate(limit);
                Ok(out)
            })
            .map_err(|e| self.error("listing", prefix, e))
    }
}

/// What an S3 error means for a user, in one line; `None` for a missing
/// object. The server's own error codes decide where they are known.
fn describe(
    err: &object_store::Error,
    bucket: &str,
    endpoint: &str,
) -> Option<(RemoteKind, String)> {
    let full = format!("{err} {err:?}");
    let has = |needles: &[&str]| needles.iter().any(|n| full.contains(n));
    let denied = "access denied: check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY";
    Some(if has(&["NoSuchBucket"]) {
        (
            RemoteKind::NoBucket,
            format!("bucket {bucket} does not exist"),
        )
    } else if has(&["InvalidBucketName"]) {
        (
            RemoteKind::Config,
            format!("{bucket:?} is not a valid bucket name"),
        )
    } else if matches!(err, object_store::Error::NotFound { .. }) {
        return None;
    } else if matches!(
        err,
        object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. }
    ) || has(&[
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AccessDenied",
    ]) {
        (RemoteKind::Denied, denied.to_owned())
    } else if has(&[
        "error sending request",
        "Connection refused",
        "onnect",
        "timed out",
        "dns error",
    ]) {
        (
            RemoteKind::Transient,
            format!("cannot reach the S3 endpoint {endpoint}"),
        )
    } else if has(&[
        "SlowDown",
        "503 Service Unavailable",
        "ServiceUnavailable",
        "RequestTimeout",
        "InternalError",
    ]) {
        (RemoteKind::Transient, first_line(err))
    } else {
        (RemoteKind::Other, first_line(err))
    })
}

fn first_line(err: &object_store::Error) -> String {
    err.to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Reads up to `max` bytes (fewer only at the end of the input).
fn read_chunk(reader: &mut dyn Read, max: usize) -> io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(max.min(1 << 20));
    reader.take(max as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Body(&'static str);
    impl std::fmt::Display for Body {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl std::error::Error for Body {}

    fn not_found(body: &'static str) -> object_store::Error {
        object_store::Error::NotFound {
            path: "x".into(),
            source: Box::new(Body(body)),
        }
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let describe = |e| describe(&e, "bkt", "http://s3").map(|(_, message)| message);
        let kind = |e| describe_kind(&e);
        // s3s-fs makes missing buckets on demand, so AWS's answer is tested here.
        let missing = not_found("404 Not Found: <Error><Code>NoSuchBucket</Code></Error>");
        assert_eq!(
            describe(missing).as_deref(),
            Some("bucket bkt does not exist")
        );
        assert_eq!(describe(not_found("<Code>NoSuchKey</Code>")), None);
        let denied = object_store::Error::PermissionDenied {
            path: "x".into(),
            source: Box::new(Body("403")),
        };
        assert!(describe(denied).unwrap().starts_with("access denied"));
        let generic = object_store::Error::Generic {
            store: "S3",
            source: Box::new(Body("error sending request for url")),
        };
        assert_eq!(
            describe(generic).as_deref(),
            Some("cannot reach the S3 endpoint http://s3")
        );
        // Only what trying again can mend is transient.
        let throttled = object_store::Error::Generic {
            store: "S3",
            source: Box::new(Body("<Code>SlowDown</Code>")),
        };
        assert_eq!(kind(throttled), Some(RemoteKind::Transient));
        assert_eq!(
            kind(not_found("<Code>NoSuchBucket</Code>")),
            Some(RemoteKind::NoBucket)
        );
        let denied = object_store::Error::PermissionDenied {
            path: "x".into(),
            source: Box::new(Body("403")),
        };
        assert_eq!(kind(denied), Some(RemoteKind::Denied));
    }

    fn describe_kind(e: &object_store::Error) -> Option<RemoteKind> {
        describe(e, "bkt", "http://s3").map(|(kind, _)| kind)
    }

    #[test]
    fn secrets_are_redacted() {
        let secrets = ["s3cr3t".to_owned()];
        assert_eq!(
            redact_with("key s3cr3t in text s3cr3t", &secrets),
            "key *** in text ***"
        );
        assert_eq!(redact_with("nothing secret", &secrets), "nothing secret");
    }
}
