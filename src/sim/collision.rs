//! Contact between oriented footprints: detection, the contact point, and the exact contact
//! time between two physics steps.

/// An oriented rectangle in the world frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Footprint {
    pub x_m: f64,
    pub y_m: f64,
    pub heading_rad: f64,
    pub length_m: f64,
    pub width_m: f64,
}

impl Footprint {
    pub fn corners(&self) -> [(f64, f64); 4] {
        let (c, s) = (self.heading_rad.cos(), self.heading_rad.sin());
        let (hl, hw) = (self.length_m / 2.0, self.width_m / 2.0);
        [(hl, hw), (-hl, hw), (-hl, -hw), (hl, -hw)]
            .map(|(dx, dy)| (self.x_m + c * dx - s * dy, self.y_m + s * dx + c * dy))
    }

    /// Whether a world point lies inside (or on) the footprint.
    pub fn contains(&self, p: (f64, f64)) -> bool {
        let (c, s) = (self.heading_rad.cos(), self.heading_rad.sin());
        let (dx, dy) = (p.0 - self.x_m, p.1 - self.y_m);
        let (lx, ly) = (c * dx + s * dy, -s * dx + c * dy);
        lx.abs() <= self.length_m / 2.0 + 1e-9 && ly.abs() <= self.width_m / 2.0 + 1e-9
    }

    /// A world point in this footprint's own frame (x forward from its centre, y left).
    pub fn to_local(&self, p: (f64, f64)) -> (f64, f64) {
        let (c, s) = (self.heading_rad.cos(), self.heading_rad.sin());
        let (dx, dy) = (p.0 - self.x_m, p.1 - self.y_m);
        (c * dx + s * dy, -s * dx + c * dy)
    }

    /// Linear interpolation between two footprints (headings by the shortest way).
    pub fn lerp(&self, other: &Footprint, f: f64) -> Footprint {
        let dh = crate::sim::vehicle::wrap_angle(other.heading_rad - self.heading_rad);
        Footprint {
            x_m: self.x_m + (other.x_m - self.x_m) * f,
            y_m: self.y_m + (other.y_m - self.y_m) * f,
            heading_rad: self.heading_rad + dh * f,
            length_m: self.length_m,
            width_m: self.width_m,
        }
    }
}

/// Whether footprints that merely touch overlap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Touching {
    /// Touching is contact (collision detection during a run).
    IsContact,
    /// Touching is clear (placement checks at t = 0: actors may stand bumper to bumper).
    IsClear,
}

/// Whether two footprints overlap (separating-axis test; touching counts as contact).
pub fn overlap(a: &Footprint, b: &Footprint) -> bool {
    overlap_with(a, b, Touching::IsContact)
}

/// Whether two footprints overlap, with touching treated as `touching` says.
pub fn overlap_with(a: &Footprint, b: &Footprint, touching: Touching) -> bool {
    let (ca, cb) = (a.corners(), b.corners());
    for poly in [&ca, &cb] {
        for i in 0..4 {
            let (x1, y1) = poly[i];
            let (x2, y2) = poly[(i + 1) % 4];
            let axis = (y1 - y2, x2 - x1);
            let project = |p: &[(f64, f64); 4]| {
                p.iter()
                    .map(|(x, y)| x * axis.0 + y * axis.1)
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                        (lo.min(v), hi.max(v))
                    })
            };
            let (amin, amax) = project(&ca);
            let (bmin, bmax) = project(&cb);
            let separated = match touching {
                Touching::IsContact => amax < bmin - 1e-12 || bmax < amin - 1e-12,
                Touching::IsClear => amax <= bmin + 1e-9 || bmax <= amin + 1e-9,
            };
            if separated {
                return false;
            }
        }
    }
    true
}

/// The contact point of two touching footprints: the mean of the corners of each that lie in
/// the other (at first contact this is the touching corner or edge).
pub fn contact_point(a: &Footprint, b: &Footprint) -> (f64, f64) {
    let mut sum = (0.0, 0.0);
    let mut n = 0.0;
    for p in a
        .corners()
        .into_iter()
        .filter(|p| b.contains(*p))
        .chain(b.corners().into_iter().filter(|p| a.contains(*p)))
    {
        sum.0 += p.0;
        sum.1 += p.1;
        n += 1.0;
    }
    if n > 0.0 {
        (sum.0 / n, sum.1 / n)
    } else {
        // Edge-on-edge crossing without corners inside: the midpoint of the centres.
        ((a.x_m + b.x_m) / 2.0, (a.y_m + b.y_m) / 2.0)
    }
}

/// The fraction in [0, 1] of a step at which two linearly moving footprints first touch,
/// given that they do not overlap at 0 and do at 1 (bisection to 1e-9 of the step).
pub fn first_contact_fraction(
    a0: &Footprint,
    a1: &Footprint,
    b0: &Footprint,
    b1: &Footprint,
) -> f64 {
    let (mut lo, mut hi) = (0.0, 1.0);
    for _ in 0..32 {
        let mid = 0.5 * (lo + hi);
        if overlap(&a0.lerp(a1, mid), &b0.lerp(b1, mid)) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(x: f64, y: f64, h: f64) -> Footprint {
        Footprint {
            x_m: x,
            y_m: y,
            heading_rad: h,
            length_m: 4.0,
            width_m: 2.0,
        }
    }

    #[test]
    fn separated_touching_and_rotated() {
        assert!(!overlap(&fp(0.0, 0.0, 0.0), &fp(4.1, 0.0, 0.0)));
        assert!(overlap(&fp(0.0, 0.0, 0.0), &fp(3.9, 0.0, 0.0)));
        assert!(!overlap(&fp(0.0, 0.0, 0.0), &fp(0.0, 2.01, 0.0)));
        // A car turned 90° in front: its half-width is 1 m along x.
        assert!(!overlap(
            &fp(0.0, 0.0, 0.0),
            &fp(3.01, 0.0, std::f64::consts::FRAC_PI_2)
        ));
        assert!(overlap(
            &fp(0.0, 0.0, 0.0),
            &fp(2.99, 0.0, std::f64::consts::FRAC_PI_2)
        ));
        // Diagonal: corner-to-corner clearance.
        let d = fp(4.0, 2.0 + 1e-3, 0.0);
        assert!(!overlap(&fp(0.0, 0.0, 0.0), &d));
    }

    #[test]
    fn contact_time_is_exact_for_linear_motion() {
        // B is 10 m ahead, A closes at 5 m per step: contact when the 6 m gap (10 − 4) closes.
        let a0 = fp(0.0, 0.0, 0.0);
        let a1 = fp(8.0, 0.0, 0.0);
        let b = fp(10.0, 0.0, 0.0);
        let f = first_contact_fraction(&a0, &a1, &b, &b);
        assert!((f - 0.75).abs() < 1e-8, "{f}");
        let p = contact_point(&a0.lerp(&a1, f), &b);
        assert!((p.0 - 8.0).abs() < 1e-6 && p.1.abs() < 1e-6, "{p:?}");
    }
}
