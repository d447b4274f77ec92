//! A clip's picture as a render node takes it: in host memory, or left on
//! the GPU whose decoder made it RGB (a `cuda` build), where a node on
//! that GPU frames it without its pixels coming down.

use kino_kernels::interpolate::Frame;
use kino_kernels::scene::{Image, SceneError};

/// A decoded picture: a host image, or packed RGB24 on a GPU that comes
/// down (once) only when something on the CPU needs its pixels.
#[derive(Debug)]
pub struct Picture {
    /// The pixels in host memory, once there.
    image: Option<Image>,
    /// The pixels on a GPU, where they were made.
    #[cfg(feature = "cuda")]
    device: Option<crate::gpu::DeviceRgb>,
}

/// Why a picture's pixels are not in host memory.
#[derive(Debug)]
pub enum PictureError {
    /// Bringing them down from the GPU failed.
    Download(String),
    /// They are not a picture (too large, or empty).
    Scene(SceneError),
}

impl std::fmt::Display for PictureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PictureError::Download(why) => write!(f, "a picture could not come down: {why}"),
            PictureError::Scene(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for PictureError {}

impl From<Image> for Picture {
    fn from(image: Image) -> Self {
        Self {
            image: Some(image),
            #[cfg(feature = "cuda")]
            device: None,
        }
    }
}

impl Picture {
    /// A packed RGB24 frame in host memory, as an opaque image.
    pub fn from_frame(frame: &Frame) -> Result<Self, SceneError> {
        Image::from_frame(frame).map(Self::from)
    }

    /// A picture left on the GPU that made it.
    #[cfg(feature = "cuda")]
    pub fn on_device(rgb: crate::gpu::DeviceRgb) -> Self {
        Self {
            image: None,
            device: Some(rgb),
        }
    }

    /// The picture on a GPU, where it is on one.
    #[cfg(feature = "cuda")]
    pub fn device(&self) -> Option<&crate::gpu::DeviceRgb> {
        self.device.as_ref()
    }

    /// Whether the pixels are on a GPU and not (yet) in host memory.
    pub fn is_on_device(&self) -> bool {
        #[cfg(feature = "cuda")]
        if self.image.is_none() && self.device.is_some() {
            return true;
        }
        false
    }

    /// Pixels across and down.
    pub fn size(&self) -> (usize, usize) {
        #[cfg(feature = "cuda")]
        if let Some(rgb) = &self.device {
            return (rgb.width(), rgb.height());
        }
        self.image
            .as_ref()
            .map_or((0, 0), |image| (image.width(), image.height()))
    }

    /// The picture as a host image: a picture on a GPU comes down the
    /// first time and is kept.
    pub fn image(&mut self) -> Result<&Image, PictureError> {
        #[cfg(feature = "cuda")]
        if self.image.is_none()
            && let Some(rgb) = &self.device
        {
            let frame = rgb
                .download()
                .map_err(|e| PictureError::Download(format!("cuda:{}: {e}", rgb.ordinal())))?;
            let image = Image::from_frame(&frame).map_err(PictureError::Scene)?;
            return Ok(self.image.insert(image));
        }
        self.image
            .as_ref()
            .ok_or_else(|| PictureError::Download("a picture with no pixels".to_owned()))
    }
}
