//! Alert protocol (RFC 5246 §7.2).

use crate::codec::Reader;
use crate::error::DecodeError;

use crate::types::wire_enum;

wire_enum! {
    /// AlertDescription (RFC 5246 §7.2, RFC 5746 §3, RFC 7301).
    AlertDescription: u8 {
        /// close_notify (0x00).
        CloseNotify = 0x00,
        /// unexpected_message (0x0a).
        UnexpectedMessage = 0x0a,
        /// bad_record_mac (0x14).
        BadRecordMac = 0x14,
        /// record_overflow (0x16).
        RecordOverflow = 0x16,
        /// handshake_failure (0x28).
        HandshakeFailure = 0x28,
        /// bad_certificate (0x2a).
        BadCertificate = 0x2a,
        /// unsupported_certificate (0x2b).
        UnsupportedCertificate = 0x2b,
        /// certificate_unknown (0x2e).
        CertificateUnknown = 0x2e,
        /// illegal_parameter (0x2f).
        IllegalParameter = 0x2f,
        /// decode_error (0x32).
        DecodeError = 0x32,
        /// decrypt_error (0x33).
        DecryptError = 0x33,
        /// protocol_version (0x46).
        ProtocolVersion = 0x46,
        /// insufficient_security (0x47).
        InsufficientSecurity = 0x47,
        /// internal_error (0x50).
        InternalError = 0x50,
        /// user_canceled (0x5a).
        UserCanceled = 0x5a,
        /// no_renegotiation (0x64).
        NoRenegotiation = 0x64,
        /// unsupported_extension (0x6e).
        UnsupportedExtension = 0x6e,
    }
}

/// AlertLevel (RFC 5246 §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertLevel {
    /// warning(1)
    Warning = 1,
    /// fatal(2)
    Fatal = 2,
}

/// An alert message: two bytes, level then description.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Alert {
    /// Severity.
    pub level: AlertLevel,
    /// What happened.
    pub description: AlertDescription,
}

impl Alert {
    /// A fatal alert.
    pub fn fatal(description: AlertDescription) -> Self {
        Alert {
            level: AlertLevel::Fatal,
            description,
        }
    }

    /// close_notify, sent as a warning as is customary.
    pub fn close_notify() -> Self {
        Alert {
            level: AlertLevel::Warning,
            description: AlertDescription::CloseNotify,
        }
    }

    /// Decodes the two-byte alert body.
    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf);
        let level = match r.u8()? {
            1 => AlertLevel::Warning,
            2 => AlertLevel::Fatal,
            other => return Err(DecodeError::InvalidAlertLevel(other)),
        };
        let description = AlertDescription::from(r.u8()?);
        r.finish()?;
        Ok(Alert { level, description })
    }

    /// Encodes the two-byte alert body.
    pub fn encode(&self) -> [u8; 2] {
        [self.level as u8, self.description.into()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_round_trip() {
        for b in 0..=255u8 {
            let a = Alert::decode(&[2, b]).unwrap();
            assert_eq!(a.encode(), [2, b]);
        }
        assert_eq!(
            Alert::decode(&[1, 0]).unwrap(),
            Alert::close_notify(),
            "close_notify"
        );
        assert_eq!(
            Alert::decode(&[3, 0]),
            Err(DecodeError::InvalidAlertLevel(3))
        );
        assert_eq!(Alert::decode(&[2]), Err(DecodeError::Truncated));
        assert_eq!(Alert::decode(&[2, 0, 0]), Err(DecodeError::TrailingBytes));
    }
}
