//! NMEA 0183 (4.11) sentences of one epoch: GGA, RMC, GSA and GSV with valid checksums, UTC
//! times, and latitude/longitude with 7 decimals of minutes as high-precision receivers emit.
//! Position sentences use the `GN` talker and GSA's system ID 4 (BeiDou); GSV uses `GB`.

use std::fmt::Write as _;

use super::geodesy::{CivilTime, Geodetic};

/// GGA quality indicator (and the matching RMC/GNS mode letter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quality {
    NoFix,
    Autonomous,
    Differential,
    RtkFixed,
    RtkFloat,
    DeadReckoning,
}

impl Quality {
    fn gga_digit(self) -> u8 {
        match self {
            Quality::NoFix => 0,
            Quality::Autonomous => 1,
            Quality::Differential => 2,
            Quality::RtkFixed => 4,
            Quality::RtkFloat => 5,
            Quality::DeadReckoning => 6,
        }
    }
    fn mode_letter(self) -> char {
        match self {
            Quality::NoFix => 'N',
            Quality::Autonomous => 'A',
            Quality::Differential => 'D',
            Quality::RtkFixed => 'R',
            Quality::RtkFloat => 'F',
            Quality::DeadReckoning => 'E',
        }
    }
}

/// A satellite in view for GSV.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SatInView {
    pub prn: u8,
    pub elevation_deg: f64,
    pub azimuth_deg: f64,
    /// C/N0 (dB-Hz); `None` when not tracked.
    pub cn0_dbhz: Option<f64>,
}

/// What the sentences of one epoch say.
#[derive(Clone, Debug, PartialEq)]
pub struct NmeaEpoch<'a> {
    pub utc: CivilTime,
    /// The reported position; `None` without a fix.
    pub position: Option<Geodetic>,
    pub quality: Quality,
    pub used_prns: &'a [u8],
    pub pdop: f64,
    pub hdop: f64,
    pub vdop: f64,
    pub in_view: &'a [SatInView],
}

/// XOR of the bytes between `$` and `*`.
pub fn checksum(body: &str) -> u8 {
    body.bytes().fold(0, |acc, b| acc ^ b)
}

fn sentence(body: &str) -> String {
    format!("${body}*{:02X}\r\n", checksum(body))
}

/// `ddmm.mmmmmmm` (latitude, `deg_digits` = 2) or `dddmm.mmmmmmm` (longitude, 3), rounded in
/// units of 1e-7 minute so that 59.99999999′ never prints as 60′.
pub fn format_angle(value_deg: f64, deg_digits: usize) -> String {
    let units = (value_deg.abs() * 60.0 * 1e7).round() as u64;
    let per_deg = 60 * 10_000_000u64;
    let deg = units / per_deg;
    let rem = units % per_deg;
    format!(
        "{deg:0deg_digits$}{:02}.{:07}",
        rem / 10_000_000,
        rem % 10_000_000
    )
}

fn time_field(t: &CivilTime) -> (String, i64) {
    // Centiseconds of the day, rounded; a day carry moves the date.
    let cs = ((f64::from(t.hour) * 3600.0 + f64::from(t.minute) * 60.0 + t.second) * 100.0).round()
        as i64;
    let carry = cs / 8_640_000;
    let cs = cs % 8_640_000;
    (
        format!(
            "{:02}{:02}{:02}.{:02}",
            cs / 360_000,
            (cs / 6000) % 60,
            (cs / 100) % 60,
            cs % 100
        ),
        carry,
    )
}

/// All sentences of one epoch, each ending in CR LF: GGA, RMC, GSA (one per 12 used
/// satellites), GSV (one per 4 satellites in view).
pub fn epoch_sentences(e: &NmeaEpoch) -> Vec<String> {
    let (time, carry) = time_field(&e.utc);
    let (lat, ns, lon, ew, alt) = match &e.position {
        Some(p) => {
            let lat_deg = p.lat_rad.to_degrees();
            let lon_deg = p.lon_rad.to_degrees();
            (
                format_angle(lat_deg, 2),
                if lat_deg >= 0.0 { "N" } else { "S" },
                format_angle(lon_deg, 3),
                if lon_deg >= 0.0 { "E" } else { "W" },
                format!("{:.3}", p.h_m),
            )
        }
        None => (String::new(), "", String::new(), "", String::new()),
    };
    let quality = if e.position.is_some() {
        e.quality
    } else {
        Quality::NoFix
    };
    let mut out = Vec::new();
    // GGA: no geoid model, so the altitude field holds the ellipsoidal height and the
    // separation is 0.
    out.push(sentence(&format!(
        "GNGGA,{time},{lat},{ns},{lon},{ew},{},{:02},{:.2},{alt},M,0.000,M,,",
        quality.gga_digit(),
        e.used_prns.len().min(99),
        if e.position.is_some() { e.hdop } else { 99.99 }
    )));
    let days = super::geodesy::days_from_civil(e.utc.year, e.utc.month, e.utc.day) + carry;
    let (y, m, d) = super::geodesy::civil_from_days(days);
    out.push(sentence(&format!(
        "GNRMC,{time},{},{lat},{ns},{lon},{ew},0.000,,{d:02}{m:02}{:02},,,{},{}",
        if e.position.is_some() { 'A' } else { 'V' },
        y.rem_euclid(100),
        quality.mode_letter(),
        if e.position.is_some() { 'S' } else { 'V' },
    )));
    let fix_dim = if e.position.is_some() { 3 } else { 1 };
    let chunks: Vec<&[u8]> = if e.used_prns.is_empty() {
        vec![&[]]
    } else {
        e.used_prns.chunks(12).collect()
    };
    for chunk in chunks {
        let mut body = format!("GNGSA,A,{fix_dim}");
        for k in 0..12 {
            match chunk.get(k) {
                Some(p) => write!(body, ",{p:02}").unwrap_or(()),
                None => body.push(','),
            }
        }
        write!(body, ",{:.2},{:.2},{:.2},4", e.pdop, e.hdop, e.vdop).unwrap_or(());
        out.push(sentence(&body));
    }
    let n = e.in_view.len();
    let total = n.div_ceil(4).max(1);
    for k in 0..total {
        let mut body = format!("GBGSV,{total},{},{n:02}", k + 1);
        for s in e.in_view.iter().skip(4 * k).take(4) {
            let cn0 = s
                .cn0_dbhz
                .map(|c| format!("{:02}", c.round() as i64))
                .unwrap_or_default();
            write!(
                body,
                ",{:02},{:02},{:03},{cn0}",
                s.prn,
                s.elevation_deg.round() as i64,
                (s.azimuth_deg.round() as i64).rem_euclid(360)
            )
            .unwrap_or(());
        }
        // Signal ID 1: B1I.
        body.push_str(",1");
        out.push(sentence(&body));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_of_a_known_sentence() {
        // A widely quoted example sentence with checksum 47.
        let body = "GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,";
        assert_eq!(checksum(body), 0x47);
    }

    #[test]
    fn angles_have_seven_decimals_and_never_sixty_minutes() {
        assert_eq!(format_angle(30.52, 2), "3031.2000000");
        assert_eq!(format_angle(114.36, 3), "11421.6000000");
        assert_eq!(format_angle(29.999_999_999_9, 2), "3000.0000000");
    }

    #[test]
    fn sentences_have_valid_checksums_and_utc() {
        let utc = CivilTime {
            year: 2020,
            month: 12,
            day: 31,
            hour: 23,
            minute: 59,
            second: 56.0,
        };
        let view = [SatInView {
            prn: 19,
            elevation_deg: 45.0,
            azimuth_deg: 120.0,
            cn0_dbhz: Some(44.0),
        }; 5];
        let e = NmeaEpoch {
            utc,
            position: Some(Geodetic::from_deg(30.52, 114.36, 40.0)),
            quality: Quality::Autonomous,
            used_prns: &[19, 20, 21, 22, 23],
            pdop: 1.5,
            hdop: 0.8,
            vdop: 1.2,
            in_view: &view,
        };
        let s = epoch_sentences(&e);
        assert_eq!(s.len(), 5);
        assert!(
            s[0].starts_with("$GNGGA,235956.00,3031.2000000,N,11421.6000000,E,1,05,0.80,40.000,M"),
            "{}",
            s[0]
        );
        assert!(s[1].contains(",311220,"), "{}", s[1]);
        for line in &s {
            let (body, cs) = line
                .trim_end()
                .trim_start_matches('$')
                .split_once('*')
                .expect("star");
            assert_eq!(
                u8::from_str_radix(cs, 16).expect("hex"),
                checksum(body),
                "{line}"
            );
        }
    }
}
