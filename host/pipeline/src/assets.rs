//! A brief's assets: a folder of product shots, logos, stock footage and
//! brand fonts, with an optional `kino-assets.toml` giving each file tags
//! and a description, and the brand's palette and font.
//!
//! A folder travels into a job as one tar archive ([`pack_folder`]; `kino
//! run` packs a folder given for a file input, the API takes the archive),
//! so it is content-addressed like any other input: the same folder is the
//! same input, and a changed file makes a new one. The `assets` stage
//! reads it into an [`AssetCatalog`] — what each asset is, never its
//! pixels — which plugins see; the render stage takes the files it picks
//! out of the archive ([`extract`]).
//!
//! Archives come from users: only plain files at the archive's top level
//! are taken, names are checked, sizes bounded, and every refusal names the
//! entry and what was wrong.

use std::collections::BTreeSet;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};

/// The folder's own description of its files.
pub const MANIFEST: &str = "kino-assets.toml";

/// The most assets in one folder.
pub const MAX_ASSETS: usize = 64;

/// The largest archive of assets, in bytes.
pub const MAX_ARCHIVE_BYTES: u64 = 2 << 30;

/// The most characters of a tag and of a description.
const MAX_TAG_CHARS: usize = 40;
const MAX_DESCRIPTION_CHARS: usize = 300;
const MAX_TAGS: usize = 12;

/// What an asset is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AssetKind {
    /// A still image: a product shot, a scene plate.
    Image,
    /// The brand's logo (an image, alpha welcome).
    Logo,
    /// A video clip: stock footage, the product in use.
    Footage,
    /// A typeface (TTF/OTF) for on-screen text.
    Font,
}

impl AssetKind {
    /// The kind a file's name implies: its extension, and `logo` in the
    /// name of an image.
    fn guess(file: &str) -> Option<AssetKind> {
        let lower = file.to_ascii_lowercase();
        let ext = lower.rsplit_once('.').map_or("", |(_, e)| e);
        match ext {
            "png" | "jpg" | "jpeg" if lower.contains("logo") => Some(AssetKind::Logo),
            "png" | "jpg" | "jpeg" => Some(AssetKind::Image),
            "mp4" | "mov" | "mkv" | "webm" | "m4v" => Some(AssetKind::Footage),
            "ttf" | "otf" => Some(AssetKind::Font),
            _ => None,
        }
    }
}

/// One asset, as the catalog lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssetInfo {
    /// Its name: unique in the folder (the file name without extension,
    /// unless the manifest names it).
    pub name: String,
    /// Its file in the archive.
    pub file: String,
    /// What it is.
    pub kind: AssetKind,
    /// Free tags ("front", "in-use", "lifestyle").
    pub tags: Vec<String>,
    /// A sentence on what it shows.
    pub description: String,
    /// Footage's length, ms; 0 otherwise.
    pub duration_ms: u32,
    /// Pixel width (0 for fonts).
    pub width: u32,
    /// Pixel height (0 for fonts).
    pub height: u32,
}

/// What the `assets` stage delivers: every asset with what it is, the
/// palette and the brand font.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AssetCatalog {
    /// The brand's colours, sRGB; empty when the folder names none.
    pub palette: Vec<[u8; 3]>,
    /// The name of the font asset on-screen text uses, if any.
    pub font: Option<String>,
    /// The assets, in the folder's order (the manifest's, then by file name).
    pub assets: Vec<AssetInfo>,
}

impl AssetCatalog {
    /// The asset called `name`.
    pub fn get(&self, name: &str) -> Option<&AssetInfo> {
        self.assets.iter().find(|a| a.name == name)
    }

    /// The assets a scene can show (images and footage).
    pub fn visuals(&self) -> impl Iterator<Item = &AssetInfo> {
        self.assets
            .iter()
            .filter(|a| matches!(a.kind, AssetKind::Image | AssetKind::Footage))
    }

    /// The first logo.
    pub fn logo(&self) -> Option<&AssetInfo> {
        self.assets.iter().find(|a| a.kind == AssetKind::Logo)
    }
}

/// `kino-assets.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Manifest {
    #[serde(default)]
    palette: Vec<String>,
    font: Option<String>,
    #[serde(default)]
    asset: Vec<ManifestAsset>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ManifestAsset {
    file: String,
    name: Option<String>,
    kind: Option<AssetKind>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    description: String,
}

/// Packs the plain files at the top of `dir` into a tar archive at `out`,
/// the same bytes for the same files (sorted names, no times or owners),
/// so the same folder is the same job input.
pub fn pack_folder(dir: &Path, out: &Path) -> Result<()> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let kind = entry.file_type()?;
        if kind.is_file() && !name.starts_with('.') {
            files.push((name, entry.path()));
        } else if kind.is_dir() {
            tracing::warn!(
                "{}: the sub-folder `{name}` is not read (assets sit at the folder's top)",
                dir.display()
            );
        }
    }
    files.sort();
    if files.is_empty() {
        bail!(
            "{}: no files (an asset folder holds images, footage, fonts and optionally {MANIFEST})",
            dir.display()
        );
    }
    let file = std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut tar = tar::Builder::new(std::io::BufWriter::new(file));
    tar.mode(tar::HeaderMode::Deterministic);
    for (name, path) in files {
        tar.append_path_with_name(&path, &name)
            .with_context(|| format!("packing {}", path.display()))?;
    }
    tar.into_inner()
        .context("finishing the asset archive")?
        .into_inner()
        .map_err(|e| e.into_error())
        .context("writing the asset archive")?;
    Ok(())
}

/// A checked archive entry name: a plain file name at the top level.
fn checked_name(raw: &Path) -> Result<String> {
    let name = raw.to_string_lossy();
    let plain = raw.components().count() == 1
        && matches!(
            raw.components().next(),
            Some(std::path::Component::Normal(_))
        );
    if !plain || name.len() > 200 || name.starts_with('.') || name.contains('\\') {
        bail!(
            "`{name}`: an asset is a plain file at the archive's top level, with a name of at most 200 bytes"
        );
    }
    Ok(name.into_owned())
}

/// Unpacks `archive` into `into`: its plain top-level files, each at most
/// `MAX_ARCHIVE_BYTES` in all. Answers the file names in archive order.
pub fn unpack(archive: &Path, into: &Path) -> Result<Vec<String>> {
    unpack_only(archive, into, |_| true)
}

/// Extracts the file `name` of `archive` into `into`, answering its path.
pub fn extract(archive: &Path, name: &str, into: &Path) -> Result<PathBuf> {
    let found = unpack_only(archive, into, |n| n == name)?;
    if found.is_empty() {
        bail!("the asset archive has no file `{name}`");
    }
    Ok(into.join(name))
}

fn unpack_only(archive: &Path, into: &Path, wanted: impl Fn(&str) -> bool) -> Result<Vec<String>> {
    let file = std::fs::File::open(archive).context("opening the asset archive")?;
    let mut tar = tar::Archive::new(std::io::BufReader::new(file));
    let mut names = Vec::new();
    let mut seen = BTreeSet::new();
    let mut total = 0u64;
    let entries = tar
        .entries()
        .context("the assets are not a tar archive (pack a folder with `kino run`, or `tar cf`)")?;
    for entry in entries {
        let mut entry = entry.context("the asset archive is damaged")?;
        let raw = entry
            .path()
            .context("an asset archive entry has no name")?
            .into_owned();
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            continue;
        }
        let name = checked_name(&raw)?;
        if !kind.is_file() {
            bail!(
                "`{name}`: only plain files are taken from an asset archive, not links or devices"
            );
        }
        if !seen.insert(name.clone()) {
            bail!("`{name}` is in the asset archive twice");
        }
        total = total.saturating_add(entry.size());
        if total > MAX_ARCHIVE_BYTES {
            bail!(
                "the asset archive holds more than {} MiB",
                MAX_ARCHIVE_BYTES >> 20
            );
        }
        if !wanted(&name) {
            continue;
        }
        let path = into.join(&name);
        let mut out =
            std::fs::File::create(&path).with_context(|| format!("unpacking `{name}`"))?;
        let size = entry.size();
        let copied = std::io::copy(&mut (&mut entry).take(size), &mut out)
            .with_context(|| format!("unpacking `{name}`"))?;
        if copied != size {
            bail!("`{name}` is cut short in the asset archive");
        }
        names.push(name);
    }
    Ok(names)
}

/// Reads an unpacked folder (`files` in `dir`) into its catalog: the
/// manifest's entries first, then every other file whose kind its name
/// tells; each probed for its size and length.
pub fn catalog(dir: &Path, files: &[String]) -> Result<AssetCatalog> {
    let manifest: Manifest = if files.iter().any(|f| f == MANIFEST) {
        let text = std::fs::read_to_string(dir.join(MANIFEST))
            .with_context(|| format!("reading {MANIFEST}"))?;
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("{MANIFEST}: {e}"))?
    } else {
        Manifest::default()
    };
    let mut entries = Vec::new();
    for a in &manifest.asset {
        if !files.contains(&a.file) {
            bail!(
                "{MANIFEST} describes `{}`, which is not in the folder",
                a.file
            );
        }
        entries.push((
            a.file.clone(),
            a.name.clone(),
            a.kind,
            a.tags.clone(),
            a.description.clone(),
        ));
    }
    let described: BTreeSet<&str> = manifest.asset.iter().map(|a| a.file.as_str()).collect();
    let mut rest: Vec<&String> = files
        .iter()
        .filter(|f| *f != MANIFEST && !described.contains(f.as_str()))
        .collect();
    rest.sort();
    for file in rest {
        match AssetKind::guess(file) {
            Some(kind) => entries.push((file.clone(), None, Some(kind), Vec::new(), String::new())),
            None => tracing::warn!(
                "asset folder: `{file}` is not an image, footage or a font; left out"
            ),
        }
    }
    if entries.len() > MAX_ASSETS {
        bail!(
            "{} assets; an asset folder holds at most {MAX_ASSETS}",
            entries.len()
        );
    }
    let mut assets: Vec<AssetInfo> = Vec::with_capacity(entries.len());
    for (file, name, kind, tags, description) in entries {
        let name = name.unwrap_or_else(|| {
            file.rsplit_once('.')
                .map_or(file.as_str(), |(stem, _)| stem)
                .to_owned()
        });
        let kind = kind.or_else(|| AssetKind::guess(&file)).with_context(|| {
            format!("{MANIFEST}: `{file}`: say its kind (image, logo, footage or font)")
        })?;
        check_words(&file, &tags, &description)?;
        if assets.iter().any(|a| a.name == name) {
            bail!("two assets are called `{name}`: name them in {MANIFEST}");
        }
        let path = dir.join(&file);
        let (duration_ms, width, height) =
            probe(&path, kind).with_context(|| format!("asset `{file}`"))?;
        assets.push(AssetInfo {
            name,
            file,
            kind,
            tags,
            description,
            duration_ms,
            width,
            height,
        });
    }
    let palette = manifest
        .palette
        .iter()
        .map(|c| parse_colour(c).with_context(|| format!("{MANIFEST}: palette")))
        .collect::<Result<Vec<_>>>()?;
    if let Some(font) = &manifest.font
        && assets
            .iter()
            .all(|a| &a.name != font || a.kind != AssetKind::Font)
    {
        bail!("{MANIFEST}: `font = \"{font}\"` names no font asset of the folder");
    }
    let font = manifest.font.or_else(|| {
        assets
            .iter()
            .find(|a| a.kind == AssetKind::Font)
            .map(|a| a.name.clone())
    });
    Ok(AssetCatalog {
        palette,
        font,
        assets,
    })
}

fn check_words(file: &str, tags: &[String], description: &str) -> Result<()> {
    if tags.len() > MAX_TAGS {
        bail!(
            "{MANIFEST}: `{file}` has {} tags; at most {MAX_TAGS}",
            tags.len()
        );
    }
    if let Some(t) = tags
        .iter()
        .find(|t| t.trim().is_empty() || t.chars().count() > MAX_TAG_CHARS)
    {
        bail!("{MANIFEST}: `{file}`: the tag `{t}` must be 1 to {MAX_TAG_CHARS} characters");
    }
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        bail!(
            "{MANIFEST}: `{file}`: the description is longer than {MAX_DESCRIPTION_CHARS} characters"
        );
    }
    Ok(())
}

/// `#rrggbb` (or `rrggbb`) as sRGB.
fn parse_colour(text: &str) -> Result<[u8; 3]> {
    let hex = text.trim().trim_start_matches('#');
    if hex.len() != 6 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        bail!("`{text}` is not a colour (#rrggbb)");
    }
    let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).context("hex");
    Ok([byte(0)?, byte(2)?, byte(4)?])
}

/// Length (ms) and pixel size of an asset, checking it is what it claims.
fn probe(path: &Path, kind: AssetKind) -> Result<(u32, u32, u32)> {
    match kind {
        AssetKind::Image | AssetKind::Logo => {
            let (w, h) = image::image_dimensions(path).context("not a PNG or JPEG image")?;
            Ok((0, w, h))
        }
        AssetKind::Footage => {
            let info = kino_media::probe(path)?;
            let video = info.video().context("footage without a video stream")?;
            let ms = (info.duration_secs * 1000.0).round();
            if !(ms.is_finite() && ms >= 100.0) {
                bail!(
                    "footage of {:.3} s is too short (at least 0.1 s)",
                    info.duration_secs
                );
            }
            Ok((
                ms.min(f64::from(u32::MAX)) as u32,
                video.width,
                video.height,
            ))
        }
        AssetKind::Font => {
            kino_kernels::text::Font::load(path).context("not a TrueType or OpenType font")?;
            Ok((0, 0, 0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_guessed_from_names() {
        assert_eq!(AssetKind::guess("front.PNG"), Some(AssetKind::Image));
        assert_eq!(AssetKind::guess("brand-logo.png"), Some(AssetKind::Logo));
        assert_eq!(AssetKind::guess("pour.mp4"), Some(AssetKind::Footage));
        assert_eq!(AssetKind::guess("Brand.otf"), Some(AssetKind::Font));
        assert_eq!(AssetKind::guess("notes.txt"), None);
    }

    #[test]
    fn colours_are_read_or_refused_by_name() {
        assert_eq!(parse_colour("#0f2a44").expect("colour"), [0x0f, 0x2a, 0x44]);
        assert!(
            parse_colour("blue")
                .expect_err("a word")
                .to_string()
                .contains("`blue`")
        );
    }

    #[test]
    fn archive_names_must_be_plain() {
        for bad in ["../x.png", "/etc/passwd", "sub/x.png", ".hidden"] {
            assert!(checked_name(Path::new(bad)).is_err(), "{bad}");
        }
        assert_eq!(checked_name(Path::new("x.png")).expect("plain"), "x.png");
    }
}
