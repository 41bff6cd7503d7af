//! Anonymous pulls over the OCI distribution API: manifests negotiated with Accept headers,
//! Bearer tokens fetched when the registry challenges, blobs streamed (never held whole).
//! Plain HTTP only for registries on this machine (see [`Reference::scheme`]).

use std::io::Read;
use std::time::Duration;

use ureq::http::Response;
use ureq::{Agent, Body};

use super::manifest::{Descriptor, Document, ACCEPT};
use super::reference::Reference;
use super::select::{self, Store};
use super::{digest, Digest, ImageError, ImageSource, LayerDesc, LayerStream, Resolved, Verified, MAX_DOCUMENT};
use crate::arch::Arch;

pub struct Registry {
    name: String,
    reference: Reference,
    agent: Agent,
    token: Option<String>,
}

impl Registry {
    pub fn new(name: &str, reference: Reference) -> Self {
        let config = Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(120)))
            .timeout_recv_body(None)
            .user_agent(concat!("c2w/", env!("CARGO_PKG_VERSION")))
            .build();
        Self { name: name.into(), reference, agent: config.into(), token: None }
    }

    fn url(&self, kind: &str, reference: &str) -> String {
        let r = &self.reference;
        format!("{}://{}/v2/{}/{kind}/{reference}", r.scheme(), r.host, r.repository)
    }

    /// GET with the current token; on a 401 Bearer challenge, fetches a token and retries once.
    fn get(&mut self, url: &str, accept: Option<&str>) -> Result<Response<Body>, ImageError> {
        let resp = self.send(url, accept)?;
        if resp.status() != 401 {
            return Ok(resp);
        }
        let challenge = resp.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        self.token = Some(self.fetch_token(&challenge)?);
        self.send(url, accept)
    }

    fn send(&self, url: &str, accept: Option<&str>) -> Result<Response<Body>, ImageError> {
        let mut req = self.agent.get(url);
        if let Some(a) = accept {
            req = req.header("Accept", a);
        }
        if let Some(t) = &self.token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        req.call().map_err(|e| self.transport_error(e))
    }

    fn transport_error(&self, e: ureq::Error) -> ImageError {
        ImageError::Registry(format!("{}: cannot reach registry {}: {e}", self.name, self.reference.host))
    }

    fn fetch_token(&self, challenge: &str) -> Result<String, ImageError> {
        let Some(params) = challenge.strip_prefix("Bearer ").or_else(|| challenge.strip_prefix("bearer ")) else {
            return Err(ImageError::Registry(format!(
                "{}: registry {} wants credentials ({}); c2w pulls anonymously, so only public images can be converted",
                self.name,
                self.reference.host,
                if challenge.is_empty() { "no challenge" } else { challenge }
            )));
        };
        let params = parse_challenge(params);
        let get = |k: &str| params.iter().find(|(n, _)| n.eq_ignore_ascii_case(k)).map(|(_, v)| v.clone());
        let realm = get("realm")
            .ok_or_else(|| ImageError::Registry(format!("{}: token challenge without a realm", self.name)))?;
        let scope = get("scope").unwrap_or_else(|| format!("repository:{}:pull", self.reference.repository));
        let mut req = self.agent.get(&realm).query("scope", &scope);
        if let Some(service) = get("service") {
            req = req.query("service", &service);
        }
        let mut resp = req.call().map_err(|e| self.transport_error(e))?;
        if resp.status() != 200 {
            return Err(ImageError::Registry(format!(
                "{}: the registry refused an anonymous token (HTTP {}); the image may be private or the name wrong",
                self.name,
                resp.status().as_u16()
            )));
        }
        let body =
            resp.body_mut().with_config().limit(MAX_DOCUMENT).read_to_vec().map_err(|e| self.transport_error(e))?;
        #[derive(serde::Deserialize)]
        struct Token {
            token: Option<String>,
            access_token: Option<String>,
        }
        let t: Token = serde_json::from_slice(&body)
            .map_err(|e| ImageError::Registry(format!("{}: bad token response: {e}", self.name)))?;
        t.token
            .or(t.access_token)
            .ok_or_else(|| ImageError::Registry(format!("{}: token response has no token", self.name)))
    }

    /// A successful response, or the error that names what went wrong.
    fn ok(&self, mut resp: Response<Body>, what: &str) -> Result<Response<Body>, ImageError> {
        let status = resp.status().as_u16();
        match status {
            200 => Ok(resp),
            404 => Err(ImageError::NotFound(format!(
                "{}: {what} not found in registry {} (check the name and tag)",
                self.name, self.reference.host
            ))),
            401 | 403 => Err(ImageError::Registry(format!(
                "{}: access to {what} denied (HTTP {status}); c2w pulls anonymously, so only public images can be converted",
                self.name
            ))),
            _ => {
                let body = resp.body_mut().with_config().limit(4096).read_to_string().unwrap_or_default();
                Err(ImageError::Registry(format!(
                    "{}: registry answered HTTP {status} for {what}: {}",
                    self.name,
                    body.trim().chars().take(200).collect::<String>()
                )))
            }
        }
    }

    fn read_small(&self, resp: Response<Body>, what: &str) -> Result<(Vec<u8>, Option<String>), ImageError> {
        let content_type = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).map(String::from);
        let bytes = resp
            .into_body()
            .into_with_config()
            .limit(MAX_DOCUMENT)
            .read_to_vec()
            .map_err(|e| ImageError::Registry(format!("{}: reading {what}: {e}", self.name)))?;
        Ok((bytes, content_type))
    }
}

/// `realm="https://x/token",service="x",scope="repository:a:pull"` -> pairs. Values may be
/// quoted and contain commas.
fn parse_challenge(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else { break };
        let key = key.trim().trim_start_matches(',').trim().to_string();
        let (value, next) = if let Some(q) = after.strip_prefix('"') {
            match q.find('"') {
                Some(end) => (q[..end].to_string(), &q[end + 1..]),
                None => (q.to_string(), ""),
            }
        } else {
            match after.find(',') {
                Some(end) => (after[..end].trim().to_string(), &after[end..]),
                None => (after.trim().to_string(), ""),
            }
        };
        out.push((key, value));
        rest = next.trim_start().trim_start_matches(',').trim_start();
    }
    out
}

impl Store for Registry {
    fn manifest(&mut self, desc: &Descriptor) -> Result<Vec<u8>, ImageError> {
        let digest = desc.digest()?;
        let what = format!("manifest {digest}");
        let resp = self.get(&self.url("manifests", digest.as_str()), Some(ACCEPT))?;
        let resp = self.ok(resp, &what)?;
        let (bytes, _) = self.read_small(resp, &what)?;
        digest::verify_bytes(&format!("{digest} of {}", self.name), &bytes, Some(&digest), Some(desc.size))?;
        Ok(bytes)
    }

    fn config(&mut self, desc: &Descriptor) -> Result<Vec<u8>, ImageError> {
        let digest = desc.digest()?;
        let what = format!("config blob {digest}");
        let resp = self.get(&self.url("blobs", digest.as_str()), None)?;
        let resp = self.ok(resp, &what)?;
        let (bytes, _) = self.read_small(resp, &what)?;
        digest::verify_bytes(&format!("{digest} of {}", self.name), &bytes, Some(&digest), Some(desc.size))?;
        Ok(bytes)
    }
}

impl ImageSource for Registry {
    fn name(&self) -> &str {
        &self.name
    }

    fn resolve(&mut self, arch: Arch) -> Result<Resolved, ImageError> {
        let reference = self.reference.manifest_ref();
        let what = format!("manifest {reference}");
        log::info!("resolving {} ({})", self.name, self.reference);
        let resp = self.get(&self.url("manifests", &reference), Some(ACCEPT))?;
        let resp = self.ok(resp, &what)?;
        let (bytes, content_type) = self.read_small(resp, &what)?;
        if let Some(d) = self.reference.digest.clone() {
            digest::verify_bytes(d.as_str(), &bytes, Some(&d), None)?;
        }
        let doc = Document::parse(&format!("{} {what}", self.name), &bytes, content_type.as_deref())?;
        let name = self.name.clone();
        select::resolve_document(self, &name, doc, arch, 0)
    }

    fn open_layer(&mut self, layer: &LayerDesc) -> Result<LayerStream<'_>, ImageError> {
        let digest: Digest = layer
            .digest
            .clone()
            .ok_or_else(|| ImageError::Invalid { what: layer.blob.clone(), reason: "no digest".into() })?;
        let resp = self.get(&self.url("blobs", digest.as_str()), None)?;
        let resp = self.ok(resp, &format!("layer {digest}"))?;
        let reader: Box<dyn Read> = Box::new(resp.into_body().into_reader());
        Ok(Verified::new(reader, format!("{digest} of {}", self.name), Some(digest), layer.size))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse_with_quoted_commas() {
        let p = parse_challenge(r#"realm="https://auth.example/token",service="reg",scope="repository:a/b:pull,push""#);
        assert_eq!(
            p,
            [
                ("realm".to_string(), "https://auth.example/token".to_string()),
                ("service".into(), "reg".into()),
                ("scope".into(), "repository:a/b:pull,push".into())
            ]
        );
        assert_eq!(
            parse_challenge("realm=x, service=y"),
            [("realm".to_string(), "x".to_string()), ("service".into(), "y".into())]
        );
    }
}
