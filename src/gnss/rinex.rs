//! A small reader of RINEX 3 and 4 navigation files for what the BeiDou model needs: BDS
//! ephemerides (D1/D2) and the broadcast Klobuchar parameters (BDS and GPS). Other systems'
//! records are skipped. Gzip-compressed input is recognised by its magic bytes. Broken input
//! gives a [`RinexError`] naming the file and line, never a panic.
//!
//! The `rinex` crate was considered: it reads far more than this (every RINEX kind, every
//! system) at the cost of a large dependency tree and a licence (MPL-2.0) unlike the project's,
//! so this reader keeps to the ~40 fields used here.

use std::io::Read;

use super::errors::KlobucharParams;
use super::geodesy::{CivilTime, WEEK_S, bdt_s_from_civil};
use super::orbits::BroadcastEphemeris;

/// A problem in a navigation file, located by file name and 1-based line (0: the whole file).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct RinexError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// What a navigation file holds for the BeiDou model.
#[derive(Clone, Debug, PartialEq)]
pub struct NavData {
    /// RINEX format version (3.04, 4.00, …).
    pub version: f64,
    /// BDS Klobuchar parameters (header `BDSA`/`BDSB` in RINEX 3, the first `> ION C.. D1D2`
    /// record in RINEX 4).
    pub bds_klobuchar: Option<KlobucharParams>,
    /// GPS Klobuchar parameters (`GPSA`/`GPSB`, or `> ION G.. LNAV`).
    pub gps_klobuchar: Option<KlobucharParams>,
    /// BDS ephemerides in file order.
    pub bds_ephemerides: Vec<BroadcastEphemeris>,
}

/// Read a navigation file's bytes (plain or gzip). `file` names it in errors.
pub fn parse_nav(bytes: &[u8], file: &str) -> Result<NavData, RinexError> {
    let err = |line: usize, message: String| RinexError {
        file: file.to_string(),
        line,
        message,
    };
    let text = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(bytes)
            .read_to_end(&mut out)
            .map_err(|e| err(0, format!("cannot decompress gzip data: {e}")))?;
        out
    } else {
        bytes.to_vec()
    };
    let text = String::from_utf8(text).map_err(|e| {
        err(
            0,
            format!(
                "not text (invalid UTF-8 at byte {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })?;
    let lines: Vec<&str> = text.lines().collect();
    let reader = Reader {
        lines: &lines,
        file,
    };
    reader.parse()
}

struct Reader<'a> {
    lines: &'a [&'a str],
    file: &'a str,
}

impl Reader<'_> {
    fn err(&self, idx: usize, message: impl Into<String>) -> RinexError {
        RinexError {
            file: self.file.to_string(),
            line: idx + 1,
            message: message.into(),
        }
    }

    fn line(&self, idx: usize, what: &str) -> Result<&str, RinexError> {
        self.lines.get(idx).copied().ok_or_else(|| RinexError {
            file: self.file.to_string(),
            line: idx + 1,
            message: format!("file ends inside {what}"),
        })
    }

    /// A fixed-width numeric field; blank fields read as 0 (RINEX leaves spares empty).
    fn field(&self, idx: usize, line: &str, start: usize, width: usize) -> Result<f64, RinexError> {
        let raw = line
            .get(start..(start + width).min(line.len()))
            .unwrap_or("");
        let s = raw.trim();
        if s.is_empty() {
            return Ok(0.0);
        }
        s.replace(['D', 'd'], "E").parse::<f64>().map_err(|_| {
            self.err(
                idx,
                format!("column {}: expected a number, found {s:?}", start + 1),
            )
        })
    }

    fn parse(&self) -> Result<NavData, RinexError> {
        let first = self.line(0, "the header")?;
        if first.get(60..).map(str::trim) != Some("RINEX VERSION / TYPE") {
            return Err(self.err(0, "not a RINEX file (line 1 lacks `RINEX VERSION / TYPE`)"));
        }
        let version = first
            .get(..9)
            .unwrap_or("")
            .trim()
            .parse::<f64>()
            .map_err(|_| self.err(0, "unreadable RINEX version"))?;
        if !(3.0..5.0).contains(&version) {
            return Err(self.err(
                0,
                format!("RINEX {version} is not supported (3.x and 4.x are)"),
            ));
        }
        if first.get(20..21) != Some("N") {
            return Err(self.err(0, "not a navigation file (file type is not N)"));
        }
        let mut data = NavData {
            version,
            bds_klobuchar: None,
            gps_klobuchar: None,
            bds_ephemerides: Vec::new(),
        };
        let mut idx = 1;
        let mut bds_alpha = None;
        let mut gps_alpha = None;
        loop {
            let line = self.line(idx, "the header (no END OF HEADER)")?;
            let label = line.get(60..).unwrap_or("").trim();
            if label == "END OF HEADER" {
                idx += 1;
                break;
            }
            if label == "IONOSPHERIC CORR" {
                let values = [0, 1, 2, 3].map(|k| self.field(idx, line, 5 + 12 * k, 12));
                let mut v = [0.0; 4];
                for (slot, r) in v.iter_mut().zip(values) {
                    *slot = r?;
                }
                match line.get(..4).unwrap_or("") {
                    "BDSA" => bds_alpha = Some(v),
                    "BDSB" => {
                        data.bds_klobuchar =
                            bds_alpha.map(|alpha| KlobucharParams { alpha, beta: v })
                    }
                    "GPSA" => gps_alpha = Some(v),
                    "GPSB" => {
                        data.gps_klobuchar =
                            gps_alpha.map(|alpha| KlobucharParams { alpha, beta: v })
                    }
                    _ => {}
                }
            }
            idx += 1;
        }
        if version >= 4.0 {
            self.body_v4(idx, &mut data)?
        } else {
            self.body_v3(idx, &mut data)?
        }
        Ok(data)
    }

    fn body_v3(&self, mut idx: usize, data: &mut NavData) -> Result<(), RinexError> {
        while idx < self.lines.len() {
            let line = self.lines[idx];
            if line.trim().is_empty() {
                idx += 1;
                continue;
            }
            match line.chars().next() {
                Some('C') => {
                    data.bds_ephemerides.push(self.bds_record(idx)?);
                    idx += 8;
                }
                Some(c) if c.is_ascii_alphabetic() => {
                    // Another system's record: skip its continuation lines.
                    idx += 1;
                    while idx < self.lines.len() && self.lines[idx].starts_with(' ') {
                        idx += 1;
                    }
                }
                _ => {
                    return Err(self.err(
                        idx,
                        format!(
                            "expected the start of a record (a satellite such as C05), found {:?}",
                            truncate(line)
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn body_v4(&self, mut idx: usize, data: &mut NavData) -> Result<(), RinexError> {
        while idx < self.lines.len() {
            let line = self.lines[idx];
            if line.trim().is_empty() {
                idx += 1;
                continue;
            }
            if !line.starts_with('>') {
                return Err(self.err(
                    idx,
                    format!(
                        "expected a record header (`> EPH …`), found {:?}",
                        truncate(line)
                    ),
                ));
            }
            let words: Vec<&str> = line[1..].split_whitespace().collect();
            match (words.first().copied(), words.get(1).map(|s| &s[..1])) {
                (Some("EPH"), Some("C")) => {
                    data.bds_ephemerides.push(self.bds_record(idx + 1)?);
                    idx += 9;
                }
                (Some("ION"), Some(sys @ ("C" | "G")))
                    if words.get(2).is_some_and(|m| *m == "D1D2" || *m == "LNAV") =>
                {
                    let l1 = self.line(idx + 1, "an ION record")?;
                    let l2 = self.line(idx + 2, "an ION record")?;
                    let l3 = self.line(idx + 3, "an ION record")?;
                    let p = KlobucharParams {
                        alpha: [
                            self.field(idx + 1, l1, 23, 19)?,
                            self.field(idx + 1, l1, 42, 19)?,
                            self.field(idx + 1, l1, 61, 19)?,
                            self.field(idx + 2, l2, 4, 19)?,
                        ],
                        beta: [
                            self.field(idx + 2, l2, 23, 19)?,
                            self.field(idx + 2, l2, 42, 19)?,
                            self.field(idx + 2, l2, 61, 19)?,
                            self.field(idx + 3, l3, 4, 19)?,
                        ],
                    };
                    let slot = if sys == "C" {
                        &mut data.bds_klobuchar
                    } else {
                        &mut data.gps_klobuchar
                    };
                    slot.get_or_insert(p);
                    idx += 4;
                }
                _ => {
                    idx += 1;
                    while idx < self.lines.len() && !self.lines[idx].starts_with('>') {
                        idx += 1;
                    }
                }
            }
        }
        Ok(())
    }

    /// One BDS record of 8 lines starting at `idx` (the `Cnn yyyy mm dd hh mm ss` line).
    fn bds_record(&self, idx: usize) -> Result<BroadcastEphemeris, RinexError> {
        let l0 = self.line(idx, "a BDS record")?;
        let prn: u8 = l0
            .get(1..3)
            .and_then(|s| s.trim().parse().ok())
            .filter(|p| (1..=63).contains(p))
            .ok_or_else(|| {
                self.err(
                    idx,
                    format!("bad BDS satellite number in {:?}", truncate(l0)),
                )
            })?;
        // The epoch (time of clock) must be readable even though the orbit uses toe.
        let epoch: Vec<&str> = l0.get(3..23).unwrap_or("").split_whitespace().collect();
        let ints: Option<Vec<u32>> = epoch.iter().map(|s| s.parse().ok()).collect();
        let Some(ints) = ints.filter(|v| v.len() == 6) else {
            return Err(self.err(idx, format!("bad epoch in {:?}", truncate(l0))));
        };
        if !(1..=12).contains(&ints[1])
            || !(1..=31).contains(&ints[2])
            || ints[3] > 23
            || ints[4] > 59
            || ints[5] > 60
        {
            return Err(self.err(idx, format!("impossible epoch in {:?}", truncate(l0))));
        }
        let _toc_bdt_s = bdt_s_from_civil(&CivilTime {
            year: ints[0] as i32,
            month: ints[1],
            day: ints[2],
            hour: ints[3],
            minute: ints[4],
            second: f64::from(ints[5]),
        });
        let mut orbit = [[0.0f64; 4]; 7];
        for (k, row) in orbit.iter_mut().enumerate() {
            let i = idx + 1 + k;
            let l = self.line(i, "a BDS record (8 lines expected)")?;
            if !l.starts_with("    ") {
                return Err(self.err(
                    i,
                    format!(
                        "BDS record C{prn:02} is cut short: expected its orbit line {} here",
                        k + 1
                    ),
                ));
            }
            for (j, slot) in row.iter_mut().enumerate() {
                *slot = self.field(i, l, 4 + 19 * j, 19)?;
            }
        }
        let [_aode, crs_m, delta_n_radps, m0_rad] = orbit[0];
        let [cuc_rad, e, cus_rad, sqrt_a] = orbit[1];
        let [toe_sow_s, cic_rad, omega0_rad, cis_rad] = orbit[2];
        let [i0_rad, crc_m, omega_rad, omega_dot_radps] = orbit[3];
        let [idot_radps, _, week, _] = orbit[4];
        if !(1_000.0..10_000.0).contains(&sqrt_a) || !(0.0..0.5).contains(&e) {
            return Err(self.err(
                idx + 2,
                format!("C{prn:02}: implausible orbit (sqrt(A) {sqrt_a}, e {e})"),
            ));
        }
        if !(0.0..WEEK_S).contains(&toe_sow_s) || !(0.0..10_000.0).contains(&week) {
            return Err(self.err(
                idx + 3,
                format!("C{prn:02}: implausible toe {toe_sow_s} s or week {week}"),
            ));
        }
        Ok(BroadcastEphemeris {
            prn,
            toe_bdt_s: week * WEEK_S + toe_sow_s,
            sqrt_a,
            e,
            i0_rad,
            omega0_rad,
            omega_rad,
            m0_rad,
            delta_n_radps,
            omega_dot_radps,
            idot_radps,
            cuc_rad,
            cus_rad,
            crc_m,
            crs_m,
            cic_rad,
            cis_rad,
            toe_sow_s,
        })
    }
}

fn truncate(line: &str) -> String {
    line.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = concat!(
        "     3.04           NAVIGATION DATA     MIXED               RINEX VERSION / TYPE\n",
        "BDSA   1.1176e-08  2.9802e-08 -4.1723e-07  6.5565e-07       IONOSPHERIC CORR    \n",
        "BDSB   1.4131e+05 -5.2429e+05  1.6384e+06 -4.5875e+05   3   IONOSPHERIC CORR    \n",
        "                                                            END OF HEADER\n",
    );

    const RECORD: &str =
        "C05 2021 01 01 00 00 00-4.263372393325e-04-7.525180478751e-11 0.000000000000e+00
     1.000000000000e+00 1.189062500000e+01 1.053258158144e-09-2.551395311193e+00
     1.695007085800e-07 4.017724422738e-04 2.923654392362e-05 6.493469865799e+03
     4.320000000000e+05 1.057051122189e-07-2.775124444992e+00-2.114102244377e-07
     6.071697097984e-02-8.976718750000e+02 1.548872664878e-01-8.714648714384e-11
    -9.407534718725e-10 0.000000000000e+00 7.820000000000e+02 0.000000000000e+00
     2.000000000000e+00 0.000000000000e+00-6.000000000000e-10-9.000000000000e-09
     4.320304000000e+05 0.000000000000e+00 0.000000000000e+00 0.000000000000e+00
";

    #[test]
    fn reads_a_record_and_the_header() {
        let nav = parse_nav(format!("{HEADER}{RECORD}").as_bytes(), "x.rnx").expect("parses");
        assert_eq!(nav.bds_ephemerides.len(), 1);
        assert_eq!(nav.bds_klobuchar.expect("ion").alpha[0], 1.1176e-8);
        let eph = nav.bds_ephemerides[0];
        assert_eq!(eph.prn, 5);
        assert_eq!(eph.toe_bdt_s, 782.0 * WEEK_S + 432_000.0);
    }

    #[test]
    fn broken_files_name_file_and_line() {
        let check = |text: String, line: usize, needle: &str| {
            let e = parse_nav(text.as_bytes(), "bad.rnx").expect_err("must fail");
            assert_eq!(e.line, line, "{e}");
            assert!(e.to_string().contains(needle), "{e}");
            assert!(e.to_string().starts_with("bad.rnx:"), "{e}");
        };
        check(String::new(), 1, "file ends");
        check("hello\n".into(), 1, "not a RINEX file");
        let first_six: String = RECORD.lines().take(6).map(|l| format!("{l}\n")).collect();
        check(format!("{HEADER}{first_six}"), 11, "file ends inside");
        check(format!("{HEADER}{first_six}{RECORD}"), 11, "cut short");
        check(
            format!(
                "{HEADER}{}",
                RECORD.replace("1.189062500000e+01", "1.18906x500000e+01")
            ),
            6,
            "expected a number",
        );
        check(
            format!("{HEADER}{}", RECORD.replace("2021 01 01", "2021 13 01")),
            5,
            "impossible epoch",
        );
        check(
            HEADER.replace("END OF HEADER", "COMMENT"),
            5,
            "no END OF HEADER",
        );
        check(
            format!(
                "{HEADER}{}",
                RECORD.replace("6.493469865799e+03", "6.493469865799e+00")
            ),
            7,
            "implausible orbit",
        );
        let e = parse_nav(&[0x1f, 0x8b, 1, 2, 3], "bad.rnx.gz").expect_err("gz");
        assert!(e.to_string().contains("gzip"), "{e}");
    }
}
