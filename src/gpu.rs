//! The GPU engine: the only module that touches wgpu. It acquires an adapter with its own
//! limits (`--device auto|gpu|cpu`), builds the compute pipelines once, keeps grow-only
//! buffers, splits batches of frames to fit the adapter's binding and dispatch limits, and
//! reads the results back. Shaders come from `shaders/`, each with a CPU reference of the same
//! name (`render.wgsl` ↔ `render::cpu`).

use std::borrow::Cow;
use std::sync::mpsc;

use rayon::prelude::*;

use crate::render::scene::FrameScene;
use crate::render::{self, Frame, Marking, Prim, View};

/// The renderer's shader source.
pub const RENDER_WGSL: &str = include_str!("../shaders/render.wgsl");

/// Which device renders (`--device`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// A GPU adapter if there is one (a software Vulkan driver counts), else the CPU reference.
    #[default]
    Auto,
    /// A GPU adapter or an error.
    Gpu,
    /// The CPU reference.
    Cpu,
}

impl DeviceChoice {
    pub fn parse(s: &str) -> Option<DeviceChoice> {
        match s {
            "auto" => Some(DeviceChoice::Auto),
            "gpu" => Some(DeviceChoice::Gpu),
            "cpu" => Some(DeviceChoice::Cpu),
            _ => None,
        }
    }
}

/// Errors of the GPU engine.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    #[error(
        "no GPU adapter found (--device gpu); on Linux without a GPU install Mesa's software Vulkan driver (Debian: mesa-vulkan-drivers libvulkan1)"
    )]
    NoAdapter,
    #[error("GPU device request failed: {0}")]
    Device(String),
    #[error("GPU error: {0}")]
    Validation(String),
    #[error("reading GPU results back failed: {0}")]
    Readback(String),
    #[error("writing frames for the GPU failed: {0}")]
    Upload(String),
    #[error("frame {index} is {width}×{height} px; the limit is {max}×{max}")]
    FrameTooLarge {
        index: usize,
        width: u32,
        height: u32,
        max: u32,
    },
}

/// The adapter in use, as `run.json` and stderr name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdapterDescription {
    pub name: String,
    pub backend: String,
    pub driver: String,
    pub device_type: String,
}

impl std::fmt::Display for AdapterDescription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}, {}, driver {})",
            self.name, self.backend, self.device_type, self.driver
        )
    }
}

/// A device and queue with the adapter's own limits.
pub struct GpuContext {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub adapter: AdapterDescription,
    pub limits: wgpu::Limits,
    /// How the engines move frames between host and device memory.
    pub memory: Memory,
}

/// How the engines move frames in and out of device memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Memory {
    /// Through mapped upload and staging buffers and copies on the GPU (device memory the host
    /// cannot map: every discrete GPU).
    Staged,
    /// The host maps the working buffers themselves (`MAPPABLE_PRIMARY_BUFFERS` on a CPU
    /// adapter, where device memory is host memory): the perturbation engine's data store and
    /// the renderer's outputs; no copies in or out.
    HostMapped,
}

/// How [`acquire_with`] sets up memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MemoryChoice {
    /// [`Memory::HostMapped`] on a CPU adapter that offers it, else [`Memory::Staged`].
    #[default]
    Auto,
    /// [`Memory::Staged`] on any adapter (the path of discrete GPUs, for tests on a CPU one).
    Staged,
}

/// What [`acquire_with`] asks for.
#[derive(Clone, Copy, Debug, Default)]
pub struct AcquireConfig {
    pub device: DeviceChoice,
    pub memory: MemoryChoice,
}

/// Acquires a GPU adapter and device, requesting the adapter's own limits. `Ok(None)`: no
/// adapter, which only `DeviceChoice::Auto` accepts.
pub fn acquire(choice: DeviceChoice) -> Result<Option<GpuContext>, GpuError> {
    acquire_with(AcquireConfig {
        device: choice,
        memory: MemoryChoice::Auto,
    })
}

/// [`acquire`] with a choice of memory set-up.
pub fn acquire_with(config: AcquireConfig) -> Result<Option<GpuContext>, GpuError> {
    let choice = config.device;
    if choice == DeviceChoice::Cpu {
        return Ok(None);
    }
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
        power_preference: wgpu::PowerPreference::HighPerformance,
        force_fallback_adapter: false,
        compatible_surface: None,
        apply_limit_buckets: false,
    }));
    let adapter = match (adapter, choice) {
        (Ok(a), _) => a,
        (Err(_), DeviceChoice::Auto) => return Ok(None),
        (Err(_), _) => return Err(GpuError::NoAdapter),
    };
    let info = adapter.get_info();
    let limits = adapter.limits();
    // On a CPU adapter device memory is host memory: mapping the working buffers themselves
    // saves a copy of every frame in and out. On a discrete GPU that would put them in slow
    // host-visible memory.
    let memory = if config.memory == MemoryChoice::Auto
        && info.device_type == wgpu::DeviceType::Cpu
        && adapter
            .features()
            .contains(wgpu::Features::MAPPABLE_PRIMARY_BUFFERS)
    {
        Memory::HostMapped
    } else {
        Memory::Staged
    };
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some("gauntlet.device"),
        required_features: match memory {
            Memory::HostMapped => wgpu::Features::MAPPABLE_PRIMARY_BUFFERS,
            Memory::Staged => wgpu::Features::empty(),
        },
        required_limits: limits.clone(),
        experimental_features: wgpu::ExperimentalFeatures::default(),
        memory_hints: wgpu::MemoryHints::Performance,
        trace: wgpu::Trace::Off,
    }))
    .map_err(|e| GpuError::Device(e.to_string()))?;
    Ok(Some(GpuContext {
        device,
        queue,
        adapter: AdapterDescription {
            name: info.name.clone(),
            backend: format!("{:?}", info.backend).to_lowercase(),
            driver: if info.driver_info.is_empty() {
                info.driver.clone()
            } else {
                format!("{} {}", info.driver, info.driver_info)
            },
            device_type: format!("{:?}", info.device_type),
        },
        limits,
        memory,
    }))
}

/// A buffer that grows when asked for more than it holds.
struct GrowBuffer {
    label: &'static str,
    usage: wgpu::BufferUsages,
    buffer: Option<wgpu::Buffer>,
}

impl GrowBuffer {
    fn new(label: &'static str, usage: wgpu::BufferUsages) -> Self {
        GrowBuffer {
            label,
            usage,
            buffer: None,
        }
    }

    fn get(&mut self, device: &wgpu::Device, size: u64) -> &wgpu::Buffer {
        let size = size.max(16).next_multiple_of(256);
        let small = self.buffer.as_ref().is_none_or(|b| b.size() < size);
        if small {
            self.buffer = Some(device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(self.label),
                size,
                usage: self.usage,
                mapped_at_creation: false,
            }));
        }
        // Set just above when absent.
        self.buffer.as_ref().expect("buffer allocated above")
    }
}

/// Bytes of one [`View`] as the shader reads it.
const VIEW_BYTES: u64 = std::mem::size_of::<View>() as u64;

/// The declaration of the scene block in `shaders/render.wgsl` (a uniform binding of 64 KiB),
/// and the storage binding that replaces it for a batch with a frame whose block is larger.
const SCENE_UNIFORM_DECL: &str = "var<uniform> scene: array<vec4<f32>, 4096>;";
const SCENE_STORAGE_DECL: &str = "var<storage, read> scene: array<vec4<f32>>;";
/// Bytes of the uniform scene block (`array<vec4<f32>, 4096>`).
const SCENE_UNIFORM_BYTES: u64 = 4096 * 16;
/// Bytes of one primitive and of one marking in a scene block.
const PRIM_BYTES: u64 = std::mem::size_of::<Prim>() as u64;
const MARKING_BYTES: u64 = std::mem::size_of::<Marking>() as u64;

/// How a pipeline binds the frame's scene block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SceneBinding {
    /// A uniform binding (lavapipe gathers its loads without branches): the usual case.
    Uniform,
    /// A storage binding, for frames whose block exceeds a uniform binding.
    Storage,
}

/// A compiled variant of the renderer.
struct RenderPipeline {
    layout: wgpu::BindGroupLayout,
    pipeline: wgpu::ComputePipeline,
}

/// The camera renderer on a GPU: pipelines and buffers made once, reused for every batch.
pub struct GpuRenderer {
    ctx: GpuContext,
    /// The shader source with the uniform scene block (the storage variant is derived from it).
    wgsl: String,
    /// The uniform-block pipeline, and the storage-block one once a batch has needed it.
    uniform: Option<RenderPipeline>,
    storage: Option<RenderPipeline>,
    views: GrowBuffer,
    scene: GrowBuffer,
    colour: GrowBuffer,
    depth: GrowBuffer,
    instance: GrowBuffer,
    coverage: GrowBuffer,
    staging: GrowBuffer,
    /// The perturbation engine on the same device, made when a scenario first perturbs.
    perturb: Option<Box<PerturbEngine>>,
    /// Pixels of a row one invocation shades (the shader's `PIXELS_PER_INVOCATION`).
    pixels_per_invocation: u32,
}

fn storage_entry(binding: u32, read_only: bool) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only },
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

/// A read-only binding at a dynamic offset.
fn dynamic_entry(binding: u32, ty: wgpu::BufferBindingType) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty,
            has_dynamic_offset: true,
            min_binding_size: None,
        },
        count: None,
    }
}

impl RenderPipeline {
    /// Compiles `wgsl` with the scene block bound as `scene`.
    fn new(
        device: &wgpu::Device,
        wgsl: &str,
        scene: SceneBinding,
    ) -> Result<RenderPipeline, GpuError> {
        let source = match scene {
            SceneBinding::Uniform => Cow::Borrowed(wgsl),
            SceneBinding::Storage => {
                Cow::Owned(wgsl.replace(SCENE_UNIFORM_DECL, SCENE_STORAGE_DECL))
            }
        };
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("gauntlet.render.wgsl"),
            source: wgpu::ShaderSource::Wgsl(source),
        });
        let scene_ty = match scene {
            SceneBinding::Uniform => wgpu::BufferBindingType::Uniform,
            SceneBinding::Storage => wgpu::BufferBindingType::Storage { read_only: true },
        };
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("gauntlet.render.layout"),
            entries: &[
                // The view stays a storage binding: as a uniform one the shader was slower on
                // lavapipe (`docs/benchmarks.md`).
                dynamic_entry(0, wgpu::BufferBindingType::Storage { read_only: true }),
                dynamic_entry(1, scene_ty),
                storage_entry(2, false),
                storage_entry(3, false),
                storage_entry(4, false),
                storage_entry(5, false),
            ],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("gauntlet.render.pipeline_layout"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some("gauntlet.render.pipeline"),
            layout: Some(&pipeline_layout),
            module: &module,
            entry_point: Some("render"),
            compilation_options: wgpu::PipelineCompilationOptions::default(),
            cache: None,
        });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(GpuError::Validation(e.to_string()));
        }
        Ok(RenderPipeline { layout, pipeline })
    }
}

impl GpuRenderer {
    /// Compiles the renderer for a device.
    pub fn new(ctx: GpuContext) -> Result<GpuRenderer, GpuError> {
        GpuRenderer::with_wgsl(ctx, RENDER_WGSL)
    }

    /// Compiles the renderer from another WGSL source with the same bindings and entry point
    /// as `shaders/render.wgsl`: for probes that time variants of the shader in one process
    /// (`examples/render_probe.rs`). Everything else uses [`GpuRenderer::new`].
    pub fn with_wgsl(ctx: GpuContext, wgsl: &str) -> Result<GpuRenderer, GpuError> {
        if wgsl.matches(SCENE_UNIFORM_DECL).count() != 1 {
            return Err(GpuError::Validation(format!(
                "the renderer's WGSL must declare its scene block once as `{SCENE_UNIFORM_DECL}`"
            )));
        }
        // A uniform block needs 64 KiB bindings; an adapter with less gets the storage variant.
        let uniform = if ctx.limits.max_uniform_buffer_binding_size >= SCENE_UNIFORM_BYTES {
            Some(RenderPipeline::new(
                &ctx.device,
                wgsl,
                SceneBinding::Uniform,
            )?)
        } else {
            None
        };
        let storage = match uniform {
            Some(_) => None,
            None => Some(RenderPipeline::new(
                &ctx.device,
                wgsl,
                SceneBinding::Storage,
            )?),
        };
        use wgpu::BufferUsages as U;
        // Coverage is cleared on the GPU (COPY_DST); a host-mapped adapter reads the outputs
        // where they lie, any other copies them into the staging buffer.
        let output = match ctx.memory {
            Memory::HostMapped => U::STORAGE | U::COPY_DST | U::MAP_READ,
            Memory::Staged => U::STORAGE | U::COPY_SRC | U::COPY_DST,
        };
        Ok(GpuRenderer {
            ctx,
            wgsl: wgsl.to_owned(),
            uniform,
            storage,
            views: GrowBuffer::new("gauntlet.render.views", U::STORAGE | U::COPY_DST),
            scene: GrowBuffer::new(
                "gauntlet.render.scene",
                U::UNIFORM | U::STORAGE | U::COPY_DST,
            ),
            colour: GrowBuffer::new("gauntlet.render.colour", output),
            depth: GrowBuffer::new("gauntlet.render.depth", output),
            instance: GrowBuffer::new("gauntlet.render.instance", output),
            coverage: GrowBuffer::new("gauntlet.render.coverage", output),
            staging: GrowBuffer::new("gauntlet.render.staging", U::MAP_READ | U::COPY_DST),
            perturb: None,
            pixels_per_invocation: wgsl
                .lines()
                .find_map(|l| {
                    l.strip_prefix("const PIXELS_PER_INVOCATION: u32 = ")?
                        .strip_suffix("u;")?
                        .parse()
                        .ok()
                })
                .unwrap_or(render::cpu::PIXELS_PER_INVOCATION),
        })
    }

    /// The adapter in use.
    pub fn adapter(&self) -> &AdapterDescription {
        &self.ctx.adapter
    }

    /// Bytes one storage binding may hold on this adapter.
    fn max_binding_bytes(&self) -> u64 {
        self.ctx
            .limits
            .max_storage_buffer_binding_size
            .min(self.ctx.limits.max_buffer_size)
    }

    /// Alignment of dynamic offsets into the views and scene buffers (uniform and storage
    /// alike: both are powers of two, so the larger is a multiple of the smaller).
    fn offset_alignment(&self) -> u64 {
        let l = &self.ctx.limits;
        u64::from(
            l.min_storage_buffer_offset_alignment
                .max(l.min_uniform_buffer_offset_alignment)
                .max(1),
        )
    }

    /// Distance between consecutive views in the views buffer: a view's size rounded up to the
    /// adapter's dynamic-offset alignment.
    fn view_stride(&self) -> u64 {
        VIEW_BYTES.next_multiple_of(self.offset_alignment())
    }

    /// Bytes of a frame's scene block (primitives, then markings), aligned for the next.
    fn scene_stride(&self, s: &FrameScene) -> u64 {
        (s.prims.len() as u64 * PRIM_BYTES + s.markings.len() as u64 * MARKING_BYTES)
            .max(16)
            .next_multiple_of(self.offset_alignment())
    }

    /// Renders frames, in order, in as few submissions as the adapter's limits allow.
    pub fn render(&mut self, scenes: &[FrameScene]) -> Result<Vec<Frame>, GpuError> {
        let max_bytes = self.max_binding_bytes();
        // Views and scene blocks are bound at u32 dynamic offsets; the last scene block's
        // binding may reach a uniform block's size past its offset.
        let max_buffer = self.ctx.limits.max_buffer_size.min(u64::from(u32::MAX));
        let max_groups = self.ctx.limits.max_compute_workgroups_per_dimension;
        let max_edge =
            (max_groups.saturating_mul(render::WORKGROUP_SIZE)).min(render::MAX_FRAME_EDGE_PX);
        let mut out = Vec::with_capacity(scenes.len());
        let mut start = 0;
        while start < scenes.len() {
            // Grow the batch while its pixels fit one binding and its views and scene blocks
            // one buffer each.
            let (mut pixels, mut views, mut blocks, mut end) = (0u64, 0u64, 0u64, start);
            while end < scenes.len() {
                let s = &scenes[end];
                let (w, h) = (s.view.frame[0], s.view.frame[1]);
                let too_large = GpuError::FrameTooLarge {
                    index: end,
                    width: w,
                    height: h,
                    max: max_edge,
                };
                if w == 0 || h == 0 || w > max_edge || h > max_edge {
                    return Err(too_large);
                }
                let px = u64::from(w) * u64::from(h);
                let block = self.scene_stride(s);
                let fits = (pixels + px) * 4 <= max_bytes
                    && views + self.view_stride() <= max_buffer
                    && blocks + block + block.max(SCENE_UNIFORM_BYTES) <= max_buffer
                    && block <= max_bytes;
                if !fits && end > start {
                    break;
                }
                if !fits {
                    return Err(too_large);
                }
                pixels += px;
                views += self.view_stride();
                blocks += block;
                end += 1;
            }
            out.extend(self.render_batch(&scenes[start..end])?);
            start = end;
        }
        Ok(out)
    }

    /// One submission: upload, dispatch, copy back.
    fn render_batch(&mut self, scenes: &[FrameScene]) -> Result<Vec<Frame>, GpuError> {
        let view_stride = self.view_stride();
        let mut views = Vec::with_capacity(scenes.len());
        let mut view_bytes = Vec::with_capacity(scenes.len() * view_stride as usize);
        let mut scene_bytes: Vec<u8> = Vec::new();
        let mut largest_block = 16u64;
        let (mut pixels, mut counters) = (0u32, 0u32);
        let mut layout = Vec::with_capacity(scenes.len());
        for s in scenes {
            let mut v = s.view;
            let n_ids = s.prims.iter().map(|p| p.ids[0]).max().unwrap_or(0) + 1;
            v.frame[2] = pixels;
            v.frame[3] = counters;
            // Scene-block indices: primitives from 0, markings after them (in `vec4`s).
            let n_prims = s.prims.len() as u32;
            v.ranges = [0, n_prims, 4 * n_prims, s.markings.len() as u32];
            let blocks = v.frame[1].div_ceil(render::WORKGROUP_SIZE);
            v.schedule = [render::row_block_stride(blocks), blocks, 0, 0];
            layout.push((
                pixels as usize,
                counters as usize,
                n_ids as usize,
                view_bytes.len() as u32,
                scene_bytes.len() as u32,
            ));
            pixels += v.frame[0] * v.frame[1];
            counters += n_ids;
            view_bytes.extend_from_slice(bytemuck::bytes_of(&v));
            view_bytes.resize(view_bytes.len().next_multiple_of(view_stride as usize), 0);
            let block_start = scene_bytes.len();
            scene_bytes.extend_from_slice(bytemuck::cast_slice(&s.prims));
            scene_bytes.extend_from_slice(bytemuck::cast_slice(&s.markings));
            largest_block = largest_block.max((scene_bytes.len() - block_start) as u64);
            let stride = self.scene_stride(s) as usize;
            scene_bytes.resize(block_start + stride, 0);
            views.push(v);
        }
        let binding = if largest_block <= SCENE_UNIFORM_BYTES && self.uniform.is_some() {
            SceneBinding::Uniform
        } else {
            SceneBinding::Storage
        };
        let block_binding_bytes = match binding {
            SceneBinding::Uniform => SCENE_UNIFORM_BYTES,
            SceneBinding::Storage => largest_block.next_multiple_of(16),
        };
        // The last block's binding reaches `block_binding_bytes` past its offset.
        let last_offset = layout.last().map_or(0, |l| u64::from(l.4));
        scene_bytes.resize((last_offset + block_binding_bytes) as usize, 0);
        if binding == SceneBinding::Storage && self.storage.is_none() {
            self.storage = Some(RenderPipeline::new(
                &self.ctx.device,
                &self.wgsl,
                SceneBinding::Storage,
            )?);
        }
        let pipeline = match binding {
            SceneBinding::Uniform => self.uniform.as_ref(),
            SceneBinding::Storage => self.storage.as_ref(),
        }
        .expect("the pipeline of the binding chosen above exists");
        let device = &self.ctx.device;
        let queue = &self.ctx.queue;
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let px_bytes = u64::from(pixels) * 4;
        let cov_bytes = u64::from(counters) * 4;
        let views_buf = self.views.get(device, view_bytes.len() as u64);
        queue.write_buffer(views_buf, 0, &view_bytes);
        let scene_buf = self.scene.get(device, scene_bytes.len() as u64);
        queue.write_buffer(scene_buf, 0, &scene_bytes);
        let colour_buf = self.colour.get(device, px_bytes);
        let depth_buf = self.depth.get(device, px_bytes);
        let instance_buf = self.instance.get(device, px_bytes);
        let coverage_buf = self.coverage.get(device, cov_bytes);
        let window = |buffer, size| {
            wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer,
                offset: 0,
                size: wgpu::BufferSize::new(size),
            })
        };
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("gauntlet.render.bind_group"),
            layout: &pipeline.layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: window(views_buf, VIEW_BYTES),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: window(scene_buf, block_binding_bytes),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: bind(colour_buf, px_bytes),
                },
                wgpu::BindGroupEntry {
                    binding: 3,
                    resource: bind(depth_buf, px_bytes),
                },
                wgpu::BindGroupEntry {
                    binding: 4,
                    resource: bind(instance_buf, px_bytes),
                },
                wgpu::BindGroupEntry {
                    binding: 5,
                    resource: bind(coverage_buf, cov_bytes),
                },
            ],
        });
        // Readback layout in one staging buffer (unless the host maps the outputs themselves):
        // colour, depth, instance, coverage.
        let total = 3 * px_bytes + cov_bytes.max(4);
        let staging = match self.ctx.memory {
            Memory::Staged => Some(self.staging.get(device, total)),
            Memory::HostMapped => None,
        };
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("gauntlet.render.encoder"),
        });
        encoder.clear_buffer(coverage_buf, 0, Some(cov_bytes.max(4).next_multiple_of(4)));
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("gauntlet.render.pass"),
                timestamp_writes: None,
            });
            pass.set_pipeline(&pipeline.pipeline);
            for (v, l) in views.iter().zip(&layout) {
                // Fits: `render` caps a batch's buffers below u32::MAX bytes.
                pass.set_bind_group(0, &bind_group, &[l.3, l.4]);
                pass.dispatch_workgroups(
                    v.frame[0].div_ceil(render::WORKGROUP_SIZE * self.pixels_per_invocation),
                    v.frame[1].div_ceil(render::WORKGROUP_SIZE),
                    1,
                );
            }
        }
        if let Some(staging) = staging {
            encoder.copy_buffer_to_buffer(colour_buf, 0, staging, 0, px_bytes);
            encoder.copy_buffer_to_buffer(depth_buf, 0, staging, px_bytes, px_bytes);
            encoder.copy_buffer_to_buffer(instance_buf, 0, staging, 2 * px_bytes, px_bytes);
            encoder.copy_buffer_to_buffer(coverage_buf, 0, staging, 3 * px_bytes, cov_bytes.max(4));
        }
        queue.submit([encoder.finish()]);
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(GpuError::Validation(e.to_string()));
        }
        // Where each output is read: ranges of the staging buffer, or the outputs themselves.
        let n = pixels as usize;
        let reads: Vec<(&wgpu::Buffer, std::ops::Range<u64>)> = match staging {
            Some(staging) => vec![(staging, 0..total)],
            None => vec![
                (colour_buf, 0..px_bytes),
                (depth_buf, 0..px_bytes),
                (instance_buf, 0..px_bytes),
                (coverage_buf, 0..cov_bytes.max(4)),
            ],
        };
        for (buffer, range) in &reads {
            map_and_wait(device, buffer, wgpu::MapMode::Read, range.clone())?;
        }
        let frames = {
            let views = reads
                .iter()
                .map(|(buffer, range)| buffer.get_mapped_range(range.clone()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| GpuError::Readback(e.to_string()))?;
            let words: Vec<&[u32]> = views.iter().map(|v| bytemuck::cast_slice(v)).collect();
            let (colour, depth, instance, coverage) = match words[..] {
                [all] => {
                    let (colour, rest) = all.split_at(n);
                    let (depth, rest) = rest.split_at(n);
                    let (instance, coverage) = rest.split_at(n);
                    (colour, depth, instance, coverage)
                }
                [colour, depth, instance, coverage] => (colour, depth, instance, coverage),
                _ => return Err(GpuError::Readback("unexpected readback layout".into())),
            };
            // Copied out frame by frame on every core: on a software driver the shader's
            // threads are idle meanwhile, and one core copied for an eighth of the batch's time.
            scenes
                .par_iter()
                .zip(&layout)
                .map(|(s, &(first_px, first_counter, n_ids, _, _))| {
                    let (w, h) = (s.view.frame[0], s.view.frame[1]);
                    let range = first_px..first_px + (w * h) as usize;
                    Frame {
                        width_px: w,
                        height_px: h,
                        rgba: bytemuck::cast_slice(&colour[range.clone()]).to_vec(),
                        depth_m: bytemuck::cast_slice(&depth[range.clone()]).to_vec(),
                        instance: instance[range].to_vec(),
                        coverage: coverage[first_counter..first_counter + n_ids].to_vec(),
                    }
                })
                .collect()
        };
        for (buffer, _) in &reads {
            buffer.unmap();
        }
        Ok(frames)
    }
}

/// Maps `range` of a staging buffer and waits until it is mapped: for reading, once the GPU has
/// filled it (the readback of the renderer and of the perturbation engine alike); for writing,
/// once the GPU no longer reads it (the perturbation engine's upload).
fn map_and_wait(
    device: &wgpu::Device,
    staging: &wgpu::Buffer,
    mode: wgpu::MapMode,
    range: std::ops::Range<u64>,
) -> Result<(), GpuError> {
    let (tx, rx) = mpsc::channel();
    staging.map_async(mode, range, move |r| {
        let _ = tx.send(r);
    });
    device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| GpuError::Readback(e.to_string()))?;
    rx.recv()
        .map_err(|e| GpuError::Readback(e.to_string()))?
        .map_err(|e| GpuError::Readback(e.to_string()))
}

/// A whole-buffer binding of `size` bytes (at least 4, a multiple of 4).
fn bind(b: &wgpu::Buffer, size: u64) -> wgpu::BindingResource<'_> {
    wgpu::BindingResource::Buffer(wgpu::BufferBinding {
        buffer: b,
        offset: 0,
        size: wgpu::BufferSize::new(size.max(4).next_multiple_of(4)),
    })
}

/// The renderer a command uses: the GPU engine or the CPU reference.
pub enum FrameRenderer {
    Gpu(Box<GpuRenderer>),
    Cpu,
}

impl FrameRenderer {
    /// The renderer for `--device`.
    pub fn new(choice: DeviceChoice) -> Result<FrameRenderer, GpuError> {
        match acquire(choice)? {
            Some(ctx) => Ok(FrameRenderer::Gpu(Box::new(GpuRenderer::new(ctx)?))),
            None => Ok(FrameRenderer::Cpu),
        }
    }

    /// What renders, as stderr and `run.json` name it (`cpu` for the CPU reference).
    pub fn describe(&self) -> String {
        match self {
            FrameRenderer::Gpu(g) => g.adapter().to_string(),
            FrameRenderer::Cpu => "cpu".into(),
        }
    }

    /// Renders frames, in order.
    pub fn render(&mut self, scenes: &[FrameScene]) -> Result<Vec<Frame>, GpuError> {
        match self {
            FrameRenderer::Gpu(g) => g.render(scenes),
            FrameRenderer::Cpu => Ok(render::cpu::render_scenes(scenes)),
        }
    }

    /// Perturbs rendered frames on the renderer's device (the GPU engine shares its device
    /// and queue, made on first use), in order.
    pub fn perturb(
        &mut self,
        frames: &[crate::perturb::FrameIn],
    ) -> Result<Vec<Vec<u8>>, PerturbError> {
        match self {
            FrameRenderer::Gpu(g) => {
                let mut engine = match g.perturb.take() {
                    Some(engine) => engine,
                    None => Box::new(PerturbEngine::new(g.ctx.share())?),
                };
                let out = engine.apply(frames);
                g.perturb = Some(engine);
                out
            }
            FrameRenderer::Cpu => Ok(perturb::cpu::perturb(frames)?),
        }
    }
}

// ─────────────────────────────────────────────────────────────────────────────────────────────
// Perturbation engine (issue 7): `shaders/perturb_*.wgsl` ↔ `perturb::{noise, colour, blur,
// weather, digital}`. Kept apart from the renderer above so that both can change independently.
// ─────────────────────────────────────────────────────────────────────────────────────────────

use std::collections::HashMap;

use crate::perturb::plan::{self as perturb_plan, Family, Job, Kernel};
use crate::perturb::{self, FrameError, FrameIn};

/// WGSL shared by every perturbation kernel (prepended to each family's file).
pub const PERTURB_COMMON_WGSL: &str = include_str!("../shaders/perturb_common.wgsl");

/// Where the kernels read the plan's lookup tables from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TableBinding {
    /// A uniform buffer of [`UNIFORM_TABLE_WORDS`] words: on lavapipe a load at an offset the
    /// same for all SIMD lanes is one scalar load, any other a vectorised gather (a storage
    /// buffer's is a loop over the lanes). Used when a batch's tables fit.
    Uniform,
    /// A storage buffer of any size.
    Storage,
}

/// Words of the uniform table buffer (the 64 KiB every WebGPU adapter binds).
pub const UNIFORM_TABLE_WORDS: usize = 16384;

/// The WGSL source of one family of perturbation kernels (the common part first), reading its
/// tables through `tables`.
pub fn perturb_wgsl(family: Family, tables: TableBinding) -> String {
    let common = match tables {
        TableBinding::Uniform => PERTURB_COMMON_WGSL
            .replace(
                "TABLES_BINDING",
                &format!(
                    "@group(0) @binding(2) var<uniform> tables: array<vec4<u32>, {}>;",
                    UNIFORM_TABLE_WORDS / 4
                ),
            )
            .replace(
                "TABLE_LOAD",
                "tables[(j.aux.z + i) >> 2u][(j.aux.z + i) & 3u]",
            ),
        TableBinding::Storage => PERTURB_COMMON_WGSL
            .replace(
                "TABLES_BINDING",
                "@group(0) @binding(2) var<storage, read> tables: array<u32>;",
            )
            .replace("TABLE_LOAD", "tables[j.aux.z + i]"),
    };
    let body = match family {
        Family::Noise => include_str!("../shaders/perturb_noise.wgsl"),
        Family::Colour => include_str!("../shaders/perturb_colour.wgsl"),
        Family::Blur => include_str!("../shaders/perturb_blur.wgsl"),
        Family::Weather => include_str!("../shaders/perturb_weather.wgsl"),
        Family::Digital => include_str!("../shaders/perturb_digital.wgsl"),
    };
    let mut src = format!("{common}\n{body}");
    if family == Family::Digital {
        // The halves of the DCT basis and the quantisation tables' parity quadrants (exact f32
        // values; the CPU reference takes the same values from `plan`).
        let luma = perturb_plan::JPEG_LUMA.map(|v| v as f32);
        let chroma = perturb_plan::JPEG_CHROMA.map(|v| v as f32);
        let mut consts = vec![
            ("DCT_E".to_string(), perturb_plan::dct_half(0)),
            ("DCT_O".to_string(), perturb_plan::dct_half(1)),
        ];
        for (name, t) in [("JPEG_LUMA", &luma), ("JPEG_CHROMA", &chroma)] {
            for (pi, pj) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                consts.push((
                    format!("{name}{pi}{pj}"),
                    perturb_plan::parity_quadrant(t, pi, pj),
                ));
            }
        }
        src.push_str(&format!(
            "\nconst PIXELATE_RUN: u32 = {}u;",
            perturb_plan::PIXELATE_RUN
        ));
        for (name, m) in consts {
            // Column-major: column c holds rows 0–3.
            let values: Vec<String> = m.iter().flatten().map(|v| format!("{v:?}f")).collect();
            src.push_str(&format!(
                "\nconst {name} = mat4x4<f32>({});",
                values.join(", ")
            ));
        }
        src.push('\n');
    }
    src
}

/// Errors of perturbing a batch.
#[derive(Debug, thiserror::Error)]
pub enum PerturbError {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error(transparent)]
    Gpu(#[from] GpuError),
}

impl GpuContext {
    /// Another handle on the same device and queue (for a renderer and a perturbation engine
    /// that share one GPU).
    pub fn share(&self) -> GpuContext {
        GpuContext {
            device: self.device.clone(),
            queue: self.queue.clone(),
            adapter: self.adapter.clone(),
            limits: self.limits.clone(),
            memory: self.memory,
        }
    }
}

const JOB_BYTES: u64 = std::mem::size_of::<Job>() as u64;

/// Jobs a dispatch's uniform window holds (`array<Job, 256>` in `perturb_common.wgsl`: 32 KiB)
/// and so frames per batch.
pub const JOB_WINDOW: usize = 256;

/// The perturbation engine on a GPU: one bind group layout, pipelines compiled on first use
/// and kept, grow-only buffers; a batch in as few submissions as the adapter's limits allow.
pub struct PerturbEngine {
    ctx: GpuContext,
    layouts: HashMap<TableBinding, (wgpu::BindGroupLayout, wgpu::PipelineLayout)>,
    modules: HashMap<(Family, TableBinding), wgpu::ShaderModule>,
    pipelines: HashMap<(Kernel, TableBinding), wgpu::ComputePipeline>,
    jobs: GrowBuffer,
    /// The data store: every frame's images and planes, addressed by word.
    data: GrowBuffer,
    uniform_tables: wgpu::Buffer,
    tables: GrowBuffer,
    staging: GrowBuffer,
    /// The frames' words (alpha 255) on their way into the data store, one frame after
    /// another.
    upload: GrowBuffer,
}

impl PerturbEngine {
    pub fn new(ctx: GpuContext) -> Result<PerturbEngine, GpuError> {
        let device = &ctx.device;
        let uniform_bytes = (4 * UNIFORM_TABLE_WORDS as u64).max(JOB_WINDOW as u64 * JOB_BYTES);
        if ctx.limits.max_uniform_buffer_binding_size < uniform_bytes {
            return Err(GpuError::Device(format!(
                "the adapter binds uniform buffers of up to {} bytes; the perturbation engine needs {uniform_bytes}",
                ctx.limits.max_uniform_buffer_binding_size
            )));
        }
        let mut layouts = HashMap::new();
        for tables in [TableBinding::Uniform, TableBinding::Storage] {
            let tables_entry = match tables {
                TableBinding::Uniform => wgpu::BindGroupLayoutEntry {
                    binding: 2,
                    visibility: wgpu::ShaderStages::COMPUTE,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    count: None,
                },
                TableBinding::Storage => storage_entry(2, true),
            };
            let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some("gauntlet.perturb.layout"),
                entries: &[
                    wgpu::BindGroupLayoutEntry {
                        binding: 0,
                        visibility: wgpu::ShaderStages::COMPUTE,
                        ty: wgpu::BindingType::Buffer {
                            ty: wgpu::BufferBindingType::Uniform,
                            has_dynamic_offset: true,
                            min_binding_size: None,
                        },
                        count: None,
                    },
                    wgpu::BindGroupLayoutEntry {
                        binding: 1,
                        visibility: wgpu::ShaderStages::COMPUTE,
                        ty: wgpu::BindingType::Buffer {
                            ty: wgpu::BufferBindingType::Storage { read_only: false },
                            has_dynamic_offset: false,
                            min_binding_size: None,
                        },
                        count: None,
                    },
                    tables_entry,
                    storage_entry(3, false),
                ],
            });
            let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some("gauntlet.perturb.pipeline_layout"),
                bind_group_layouts: &[Some(&layout)],
                immediate_size: 0,
            });
            layouts.insert(tables, (layout, pipeline_layout));
        }
        use wgpu::BufferUsages as U;
        let input = U::STORAGE | U::COPY_DST;
        let data_usage = match ctx.memory {
            Memory::HostMapped => U::STORAGE | U::MAP_READ | U::MAP_WRITE,
            Memory::Staged => U::STORAGE | U::COPY_DST | U::COPY_SRC,
        };
        let uniform_tables = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("gauntlet.perturb.uniform_tables"),
            size: 4 * UNIFORM_TABLE_WORDS as u64,
            usage: U::UNIFORM | U::COPY_DST,
            mapped_at_creation: false,
        });
        Ok(PerturbEngine {
            ctx,
            layouts,
            modules: HashMap::new(),
            pipelines: HashMap::new(),
            jobs: GrowBuffer::new("gauntlet.perturb.jobs", U::UNIFORM | U::COPY_DST),
            data: GrowBuffer::new("gauntlet.perturb.data", data_usage),
            uniform_tables,
            tables: GrowBuffer::new("gauntlet.perturb.tables", input),
            staging: GrowBuffer::new("gauntlet.perturb.staging", U::MAP_READ | U::COPY_DST),
            upload: GrowBuffer::new("gauntlet.perturb.upload", U::MAP_WRITE | U::COPY_SRC),
        })
    }

    /// The adapter in use.
    pub fn adapter(&self) -> &AdapterDescription {
        &self.ctx.adapter
    }

    /// Compiles every kernel now, with both table bindings (otherwise each is compiled on its
    /// first use).
    pub fn compile_all(&mut self) -> Result<(), GpuError> {
        for &k in Kernel::ALL {
            for tables in [TableBinding::Uniform, TableBinding::Storage] {
                self.pipeline(k, tables)?;
            }
        }
        Ok(())
    }

    fn pipeline(
        &mut self,
        kernel: Kernel,
        tables: TableBinding,
    ) -> Result<&wgpu::ComputePipeline, GpuError> {
        if !self.pipelines.contains_key(&(kernel, tables)) {
            let device = &self.ctx.device;
            let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
            let family = kernel.family();
            let module = self.modules.entry((family, tables)).or_insert_with(|| {
                let desc = wgpu::ShaderModuleDescriptor {
                    label: Some(family.name()),
                    source: wgpu::ShaderSource::Wgsl(Cow::Owned(perturb_wgsl(family, tables))),
                };
                // Every check wgpu offers except naga's loop bounding, which adds a 64-bit
                // counter to every loop (3–10 % of a corruption's time on lavapipe, where
                // loop-carried values are masked by the execution mask on every iteration).
                let mut checks = wgpu::ShaderRuntimeChecks::checked();
                checks.force_loop_bounding = false;
                // SAFETY: wgpu requires that no loop of these shaders runs forever. Every loop
                // in `shaders/perturb_*.wgsl` steps a counter toward a bound fixed before it
                // starts: a constant, or a radius, tap count, table length or frame size that
                // `perturb::plan` derives from frames no larger than `MAX_FRAME_EDGE_PX` and
                // from its severity tables (ARCHITECTURE.md, "Invariants"). Naga's bounding
                // would stop a runaway loop only after 2^64 iterations anyway.
                unsafe { device.create_shader_module_trusted(desc, checks) }
            });
            let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(kernel.name()),
                layout: Some(&self.layouts[&tables].1),
                module,
                entry_point: Some(kernel.name()),
                compilation_options: wgpu::PipelineCompilationOptions::default(),
                cache: None,
            });
            if let Some(e) = pollster::block_on(scope.pop()) {
                return Err(GpuError::Validation(format!("{}: {e}", kernel.name())));
            }
            self.pipelines.insert((kernel, tables), pipeline);
        }
        Ok(&self.pipelines[&(kernel, tables)])
    }

    /// Bytes of a batch's data store: what one storage binding may hold on this adapter.
    fn max_binding_bytes(&self) -> u64 {
        self.ctx
            .limits
            .max_storage_buffer_binding_size
            .min(self.ctx.limits.max_buffer_size)
    }

    /// Perturbs frames (each with its own chain), in order, in as few submissions as the
    /// adapter's limits allow. Returns each frame's RGBA8 pixels.
    pub fn apply(&mut self, frames: &[FrameIn]) -> Result<Vec<Vec<u8>>, PerturbError> {
        let mut out = Vec::new();
        self.apply_into(frames, &mut out)?;
        Ok(out)
    }

    /// [`PerturbEngine::apply`] into `out` (resized to one entry per frame), reusing the
    /// memory its entries hold: a caller that perturbs batch after batch into the same `out`
    /// does not have fresh pages zeroed by the kernel for every frame (on a software driver
    /// that was about 8 % of a per-pixel corruption's CPU time).
    pub fn apply_into(
        &mut self,
        frames: &[FrameIn],
        out: &mut Vec<Vec<u8>>,
    ) -> Result<(), PerturbError> {
        perturb::check_frames(frames)?;
        out.resize_with(frames.len(), Vec::new);
        let max_bytes = self.max_binding_bytes();
        let max_frames =
            (self.ctx.limits.max_compute_workgroups_per_dimension as usize).min(JOB_WINDOW);
        let mut start = 0;
        while start < frames.len() {
            let mut bytes = 0u64;
            let mut end = start;
            while end < frames.len() && end - start < max_frames {
                let f = &frames[end];
                let b = 4 * perturb_plan::frame_words(f.width_px, f.height_px, f.chain);
                if bytes + b > max_bytes {
                    if end == start {
                        return Err(GpuError::FrameTooLarge {
                            index: end,
                            width: f.width_px,
                            height: f.height_px,
                            max: perturb::MAX_FRAME_EDGE_PX,
                        }
                        .into());
                    }
                    break;
                }
                bytes += b;
                end += 1;
            }
            self.apply_batch(&frames[start..end], &mut out[start..end])?;
            start = end;
        }
        Ok(())
    }

    /// One submission: upload, every dispatch of the plan, copy the results back.
    fn apply_batch(&mut self, frames: &[FrameIn], out: &mut [Vec<u8>]) -> Result<(), GpuError> {
        let align = u64::from(self.ctx.limits.min_uniform_buffer_offset_alignment);
        let job_align = align.div_ceil(JOB_BYTES).max(1) as u32;
        // Job offsets must be multiples of the alignment: with 128-byte jobs that holds when
        // the alignment divides 128 or is a multiple of it.
        let plan = perturb_plan::build(frames, job_align);
        let tables = if plan.tables.len() <= UNIFORM_TABLE_WORDS {
            TableBinding::Uniform
        } else {
            TableBinding::Storage
        };
        for d in &plan.dispatches {
            self.pipeline(d.kernel, tables)?;
        }
        // Every dispatch binds a window of JOB_WINDOW jobs from its first (a batch has at most
        // that many frames, one job per frame and dispatch).
        let window = JOB_WINDOW as u32;
        let mut jobs = plan.jobs.clone();
        jobs.extend(std::iter::repeat_n(Job::default(), window as usize));
        let device = &self.ctx.device;
        let queue = &self.ctx.queue;
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let jobs_bytes = std::mem::size_of_val(jobs.as_slice()) as u64;
        let jobs_buf = self.jobs.get(device, jobs_bytes);
        queue.write_buffer(jobs_buf, 0, bytemuck::cast_slice(&jobs));
        let tables_resource = match tables {
            TableBinding::Uniform => {
                queue.write_buffer(&self.uniform_tables, 0, bytemuck::cast_slice(&plan.tables));
                self.uniform_tables.as_entire_binding()
            }
            TableBinding::Storage => {
                let tables_bytes = 4 * plan.tables.len() as u64;
                let tables_buf = self.tables.get(device, tables_bytes);
                queue.write_buffer(tables_buf, 0, bytemuck::cast_slice(&plan.tables));
                bind(tables_buf, tables_bytes)
            }
        };
        let data_bytes = 4 * plan.data_words.max(1);
        let data = self.data.get(device, data_bytes);
        // The frames' words (`cpu::upload_pixel`: alpha 255), frame after frame, written once
        // where the GPU reads them: on a host-mapped adapter into the data store itself, where
        // the plan places each frame; otherwise into the mapped upload buffer, from which the
        // GPU copies them into the data store (on a software driver, a queued write per frame
        // allocated a fresh staging buffer each time and filled it on one core).
        let upload = match self.ctx.memory {
            Memory::HostMapped => {
                let at: Vec<u64> = plan.frames.iter().map(|s| 4 * s.base).collect();
                write_frames(device, data, data_bytes, frames, &at)?;
                None
            }
            Memory::Staged => {
                let mut at = Vec::with_capacity(frames.len());
                let mut bytes = 0u64;
                for f in frames {
                    at.push(bytes);
                    bytes += (f.rgba.len() as u64).next_multiple_of(256);
                }
                let upload = self.upload.get(device, bytes);
                write_frames(device, upload, bytes, frames, &at)?;
                Some((upload, at))
            }
        };
        // The results: on a host-mapped adapter read where they lie in the data store;
        // otherwise each frame's result region is copied into the staging buffer one after
        // another. `reads` says where each frame's pixels start.
        let mut reads = Vec::with_capacity(plan.frames.len());
        let mut staged = 0u64;
        for s in &plan.frames {
            match self.ctx.memory {
                Memory::HostMapped => reads.push(4 * (s.base + u64::from(s.result))),
                Memory::Staged => reads.push(staged),
            }
            staged += 4 * u64::from(s.width_px * s.height_px);
        }
        let staging = match self.ctx.memory {
            Memory::HostMapped => None,
            Memory::Staged => Some(self.staging.get(device, staged)),
        };
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("gauntlet.perturb.bind_group"),
            layout: &self.layouts[&tables].0,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: jobs_buf,
                        offset: 0,
                        size: wgpu::BufferSize::new(u64::from(window) * JOB_BYTES),
                    }),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: bind(data, data_bytes),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: tables_resource,
                },
                wgpu::BindGroupEntry {
                    binding: 3,
                    resource: bind(data, data_bytes),
                },
            ],
        });
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("gauntlet.perturb.encoder"),
        });
        if let Some((upload, upload_at)) = &upload {
            for ((f, slot), &at) in frames.iter().zip(&plan.frames).zip(upload_at) {
                encoder.copy_buffer_to_buffer(upload, at, data, 4 * slot.base, f.rgba.len() as u64);
            }
        }
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("gauntlet.perturb.pass"),
                timestamp_writes: None,
            });
            for d in &plan.dispatches {
                pass.set_pipeline(&self.pipelines[&(d.kernel, tables)]);
                let offset = u64::from(d.first_job) * JOB_BYTES;
                pass.set_bind_group(0, &bind_group, &[offset as u32]);
                pass.dispatch_workgroups(d.groups[0], d.groups[1], d.groups[2]);
            }
        }
        if let Some(staging) = staging {
            for (slot, &at) in plan.frames.iter().zip(&reads) {
                let start = 4 * (slot.base + u64::from(slot.result));
                let n = 4 * u64::from(slot.width_px * slot.height_px);
                encoder.copy_buffer_to_buffer(data, start, staging, at, n);
            }
        }
        queue.submit([encoder.finish()]);
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(GpuError::Validation(e.to_string()));
        }
        let (results, results_bytes) = match staging {
            Some(staging) => (staging, staged),
            None => (data, data_bytes),
        };
        map_and_wait(device, results, wgpu::MapMode::Read, 0..results_bytes)?;
        {
            let mapped = results
                .get_mapped_range(0..results_bytes)
                .map_err(|e| GpuError::Readback(e.to_string()))?;
            let bytes: &[u8] = &mapped;
            // Copied out frame by frame on every core (the driver's threads are idle now).
            plan.frames
                .par_iter()
                .zip(&reads)
                .zip(out.par_iter_mut())
                .for_each(|((s, &at), dst)| {
                    let n = 4 * (s.width_px * s.height_px) as usize;
                    dst.clear();
                    dst.extend_from_slice(&bytes[at as usize..at as usize + n]);
                });
        }
        results.unmap();
        Ok(())
    }
}

/// Bytes of a frame converted at a time on their way into a mapped buffer.
const UPLOAD_CHUNK_BYTES: usize = 16 * 1024;

/// Maps `buffer` for writing and writes each frame's words (`cpu::upload_pixel`) at its byte
/// offset `at` (a multiple of 8), frame by frame on every core (the driver's threads are idle
/// now).
fn write_frames(
    device: &wgpu::Device,
    buffer: &wgpu::Buffer,
    bytes: u64,
    frames: &[FrameIn],
    at: &[u64],
) -> Result<(), GpuError> {
    map_and_wait(device, buffer, wgpu::MapMode::Write, 0..bytes.max(4))?;
    let written = frames
        .par_iter()
        .zip(at)
        .try_for_each(|(f, &start)| -> Result<(), GpuError> {
            let mut place = buffer
                .get_mapped_range_mut(start..start + f.rgba.len() as u64)
                .map_err(|e| GpuError::Upload(e.to_string()))?;
            // Converted through a small buffer by a loop the compiler vectorises, then copied
            // (a `write_iter` straight into the mapping went pixel by pixel).
            let mut converted = [0u8; UPLOAD_CHUNK_BYTES];
            for (k, src) in f.rgba.chunks(UPLOAD_CHUNK_BYTES).enumerate() {
                let n = src.len();
                for (d, s) in converted[..n].chunks_exact_mut(4).zip(src.chunks_exact(4)) {
                    d.copy_from_slice(&perturb::cpu::upload_pixel(s));
                }
                let at = k * UPLOAD_CHUNK_BYTES;
                place.slice(at..at + n).copy_from_slice(&converted[..n]);
            }
            Ok(())
        });
    buffer.unmap();
    written
}

/// The perturbation engine a command uses: the GPU engine or the CPU reference.
pub enum Perturber {
    Gpu(Box<PerturbEngine>),
    Cpu,
}

impl Perturber {
    /// The engine for `--device`.
    pub fn new(choice: DeviceChoice) -> Result<Perturber, GpuError> {
        match acquire(choice)? {
            Some(ctx) => Ok(Perturber::Gpu(Box::new(PerturbEngine::new(ctx)?))),
            None => Ok(Perturber::Cpu),
        }
    }

    /// What perturbs, as stderr and `run.json` name it (`cpu` for the CPU reference).
    pub fn describe(&self) -> String {
        match self {
            Perturber::Gpu(g) => g.adapter().to_string(),
            Perturber::Cpu => "cpu".into(),
        }
    }

    /// Perturbs frames, in order.
    pub fn apply(&mut self, frames: &[FrameIn]) -> Result<Vec<Vec<u8>>, PerturbError> {
        let mut out = Vec::new();
        self.apply_into(frames, &mut out)?;
        Ok(out)
    }

    /// Perturbs frames, in order, into `out` (see [`PerturbEngine::apply_into`]).
    pub fn apply_into(
        &mut self,
        frames: &[FrameIn],
        out: &mut Vec<Vec<u8>>,
    ) -> Result<(), PerturbError> {
        match self {
            Perturber::Gpu(g) => g.apply_into(frames, out),
            Perturber::Cpu => {
                *out = perturb::cpu::perturb(frames)?;
                Ok(())
            }
        }
    }
}
