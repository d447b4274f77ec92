//! A brief's assets in the ad: the `catalog` stage lists them (the asset
//! folder's, plus the `product` and `logo` inputs), plugins see the list,
//! each directed scene picks what it shows ([`Pick`]), and the render
//! stage finds the picked files ([`AssetFiles`]).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};

use super::{OpCx, write_json};
use crate::assets::{self, AssetCatalog, AssetInfo, AssetKind};
use kino_runtime::types as wit;

/// The `file` of an asset that is a job input, not a member of the folder.
const INPUT_PREFIX: &str = "input:";

/// What a scene shows, and how: a plugin's pick, or the host's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pick {
    /// The asset's name in the catalog.
    pub name: String,
    /// Footage: where in the clip the scene starts, ms.
    pub in_ms: u32,
    /// Footage: the playback speed at the scene's start and end.
    pub speed: [f32; 2],
    /// Whether it is shown whole (letterboxed on the palette) rather than
    /// filling the frame.
    pub contain: bool,
    /// Who picked it: a plugin (`name@version`), or `None` for the host.
    pub picked_by: Option<String>,
}

impl Pick {
    /// A plugin's (checked) pick.
    pub fn from_wit(pick: &wit::AssetPick, by: &str) -> Pick {
        Pick {
            name: pick.name.clone(),
            in_ms: pick.in_ms,
            speed: [pick.speed_start, pick.speed_end],
            contain: pick.fit == wit::Fit::Contain,
            picked_by: Some(by.to_owned()),
        }
    }

    /// The host's pick for the scene at `position` when the director picks
    /// none: the catalog's visuals dealt in turn, so neighbours differ;
    /// `None` when the product image is all there is.
    pub fn host(catalog: &AssetCatalog, position: usize) -> Option<Pick> {
        let visuals: Vec<&AssetInfo> = catalog.visuals().collect();
        if visuals.len() < 2 {
            return None;
        }
        let asset = visuals[position % visuals.len()];
        Some(Pick {
            name: asset.name.clone(),
            in_ms: 0,
            speed: [1.0, 1.0],
            contain: asset.kind == AssetKind::Image && asset.tags.iter().any(|t| t == "product"),
            picked_by: None,
        })
    }
}

/// The assets as plugins see them: names, kinds, tags, sizes; no pixels.
pub fn wit_assets(catalog: &AssetCatalog) -> Vec<wit::Asset> {
    catalog
        .assets
        .iter()
        .map(|a| wit::Asset {
            name: a.name.clone(),
            kind: match a.kind {
                AssetKind::Image => wit::AssetKind::Image,
                AssetKind::Logo => wit::AssetKind::Logo,
                AssetKind::Footage => wit::AssetKind::Footage,
                AssetKind::Font => wit::AssetKind::Font,
            },
            tags: a.tags.clone(),
            description: a.description.clone(),
            duration_ms: a.duration_ms,
            width: a.width,
            height: a.height,
        })
        .collect()
}

/// The asset folder (a tar archive, optional) + the product image + the
/// logo (optional) -> the catalog.
pub(super) fn read_assets(cx: &OpCx, dir: &Path) -> Result<PathBuf> {
    let mut catalog = match cx.optional_file(0)? {
        Some(archive) => {
            let unpacked = dir.join("unpacked");
            std::fs::create_dir(&unpacked).context("creating a scratch folder")?;
            let files = assets::unpack(archive, &unpacked).context("the asset folder")?;
            let catalog = assets::catalog(&unpacked, &files).context("the asset folder")?;
            std::fs::remove_dir_all(&unpacked).context("removing a scratch folder")?;
            catalog
        }
        None => AssetCatalog::default(),
    };
    for (input, name, kind, description) in [
        (1, "product", AssetKind::Image, "the product"),
        (2, "logo", AssetKind::Logo, "the brand's logo"),
    ] {
        let Some(path) = cx.optional_file(input)? else {
            continue;
        };
        if catalog.get(name).is_some() {
            bail!(
                "the asset folder has an asset called `{name}`, the name of the job's `{name}` input: rename it in kino-assets.toml"
            );
        }
        // Stored inputs have no extension: the format is read from the bytes.
        let (width, height) = image::ImageReader::open(path)
            .and_then(|r| r.with_guessed_format())
            .map_err(anyhow::Error::from)
            .and_then(|r| Ok(r.into_dimensions()?))
            .with_context(|| format!("{}: not a PNG or JPEG image", path.display()))?;
        catalog.assets.insert(
            if kind == AssetKind::Image {
                0
            } else {
                catalog.assets.len()
            },
            AssetInfo {
                name: name.to_owned(),
                file: format!("{INPUT_PREFIX}{name}"),
                kind,
                tags: vec![name.to_owned()],
                description: description.to_owned(),
                duration_ms: 0,
                width,
                height,
            },
        );
    }
    write_json(dir, "assets.json", &catalog)
}

/// Where the render stage finds an asset's file.
pub(super) struct AssetFiles<'a> {
    /// The catalog.
    pub catalog: AssetCatalog,
    archive: Option<&'a Path>,
    product: &'a Path,
    logo: Option<&'a Path>,
}

impl<'a> AssetFiles<'a> {
    /// From the render stage's inputs: the catalog and the archive (both
    /// optional), the product and logo.
    pub fn new(
        catalog: Option<AssetCatalog>,
        archive: Option<&'a Path>,
        product: &'a Path,
        logo: Option<&'a Path>,
    ) -> Self {
        Self {
            catalog: catalog.unwrap_or_default(),
            archive,
            product,
            logo,
        }
    }

    /// The file of asset `name`, extracted into `scratch` when it is a
    /// member of the folder.
    pub fn file(&self, name: &str, scratch: &Path) -> Result<(AssetInfo, PathBuf)> {
        let asset = self
            .catalog
            .get(name)
            .with_context(|| format!("no asset called `{name}`"))?
            .clone();
        let path = match asset.file.strip_prefix(INPUT_PREFIX) {
            Some("product") => self.product.to_owned(),
            Some("logo") => self.logo.context("no logo was given")?.to_owned(),
            Some(other) => bail!("no input `{other}` holds assets"),
            None => {
                let archive = self.archive.context("the asset folder is missing")?;
                assets::extract(archive, &asset.file, scratch)?
            }
        };
        Ok((asset, path))
    }
}
