//! Static assets (CSS, JS, icons) embedded in the binary and served from
//! memory under `/static/<version>/...`. The version is a hash of every
//! embedded file, so URLs change whenever an asset does and browsers may
//! cache them for a year.

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::OnceLock;

use rocket::http::{ContentType, Header, Status};
use rocket::response::{self, Responder};
use rocket::{Request, Response};
use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};

#[derive(RustEmbed)]
#[folder = "assets/static/"]
struct Static;

/// A short hash over all embedded assets.
pub fn version() -> &'static str {
    static V: OnceLock<String> = OnceLock::new();
    V.get_or_init(|| {
        let mut names: Vec<Cow<'static, str>> = Static::iter().collect();
        names.sort();
        let mut h = Sha256::new();
        for n in names {
            h.update(n.as_bytes());
            if let Some(f) = Static::get(&n) {
                h.update(f.metadata.sha256_hash());
            }
        }
        hex::encode(h.finalize())[..12].to_string()
    })
}

/// The URL of an asset, e.g. `asset_url("app.css")`.
pub fn asset_url(path: &str) -> String {
    format!("/static/{}/{}", version(), path.trim_start_matches('/'))
}

pub struct Asset {
    body: Cow<'static, [u8]>,
    content_type: ContentType,
}

impl<'r> Responder<'r, 'static> for Asset {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        let body: Vec<u8> = self.body.into_owned();
        Response::build()
            .header(self.content_type)
            .header(Header::new(
                "Cache-Control",
                "public, max-age=31536000, immutable",
            ))
            .sized_body(body.len(), std::io::Cursor::new(body))
            .ok()
    }
}

#[rocket::get("/static/<_version>/<path..>")]
pub fn serve(_version: &str, path: PathBuf) -> Result<Asset, Status> {
    let name = path.to_str().ok_or(Status::NotFound)?.replace('\\', "/");
    let file = Static::get(&name).ok_or(Status::NotFound)?;
    let content_type = path
        .extension()
        .and_then(|e| e.to_str())
        .and_then(ContentType::from_extension)
        .unwrap_or(ContentType::Binary);
    Ok(Asset {
        body: file.data,
        content_type,
    })
}

#[rocket::get("/favicon.ico")]
pub fn favicon() -> Result<Asset, Status> {
    let file = Static::get("icons/favicon.svg").ok_or(Status::NotFound)?;
    Ok(Asset {
        body: file.data,
        content_type: ContentType::SVG,
    })
}
