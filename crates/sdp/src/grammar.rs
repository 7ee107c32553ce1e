//! `nom` building blocks shared by the line and attribute grammars.
//!
//! Every leaf parser here either succeeds or fails with a typed [`ParseErrorKind`] that names
//! the field it was reading, so no `nom` error text ever reaches a user. Leaves fail with
//! `nom::Err::Failure` (the grammar has committed by the time it reads a field); only the
//! one-character probes used under `opt` fail recoverably.

use std::str::FromStr;

use nom::bytes::complete::take_till1;
use nom::character::complete::digit1;
use nom::error::{ErrorKind, ParseError};
use nom::{IResult, Parser};

use crate::{ParseErrorKind, PayloadType};

/// The `nom` error type of this crate: a typed reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fail(pub(crate) ParseErrorKind);

impl<'a> ParseError<&'a str> for Fail {
    fn from_error_kind(_input: &'a str, _kind: ErrorKind) -> Self {
        // Only reached through the recoverable probes (`char`, `tag`) used under `opt`, whose
        // failure is never reported as such; this kind is a placeholder.
        Fail(ParseErrorKind::Invalid("value"))
    }

    fn append(_input: &'a str, _kind: ErrorKind, other: Self) -> Self {
        other
    }
}

/// Result of a parser in this crate.
pub(crate) type Res<'a, T> = IResult<&'a str, T, Fail>;

/// A committed failure with a typed reason.
pub(crate) fn failure<T>(kind: ParseErrorKind) -> Result<T, nom::Err<Fail>> {
    Err(nom::Err::Failure(Fail(kind)))
}

/// Runs `parser` over the whole of `input`: text left over is a [`ParseErrorKind::Trailing`]
/// naming `what`.
pub(crate) fn complete<'a, T>(
    mut parser: impl Parser<&'a str, Output = T, Error = Fail>,
    what: &'static str,
    input: &'a str,
) -> Result<T, ParseErrorKind> {
    match parser.parse(input) {
        Ok(("", value)) => Ok(value),
        Ok(_) => Err(ParseErrorKind::Trailing(what)),
        Err(nom::Err::Error(Fail(kind)) | nom::Err::Failure(Fail(kind))) => Err(kind),
        // Only streaming parsers return `Incomplete`; this crate uses the complete ones.
        Err(nom::Err::Incomplete(_)) => Err(ParseErrorKind::Invalid(what)),
    }
}

/// One `SP` that must be there because `field` follows it.
pub(crate) fn sp<'a>(field: &'static str) -> impl FnMut(&'a str) -> Res<'a, ()> {
    move |i: &'a str| match i.strip_prefix(' ') {
        Some(rest) => Ok((rest, ())),
        None if i.is_empty() => failure(ParseErrorKind::Missing(field)),
        None => failure(ParseErrorKind::Invalid(field)),
    }
}

/// A separator character `c` that must be there because `field` follows it.
pub(crate) fn sep<'a>(c: char, field: &'static str) -> impl FnMut(&'a str) -> Res<'a, ()> {
    move |i: &'a str| match i.strip_prefix(c) {
        Some(rest) => Ok((rest, ())),
        None => failure(ParseErrorKind::Missing(field)),
    }
}

/// `non-ws-string`, stopped at the first `SP`: a non-empty run of anything but a space or a
/// tab.
///
/// ```abnf
/// non-ws-string = 1*(VCHAR/%x80-FF)
/// ```
/// A tab, CR, LF, NUL or any other control character is not part of a `non-ws-string`
/// (they are not `VCHAR`): it is an error, so that no field holds a character that a line
/// split or a line-end trim would eat, and serializing then parsing gives the same value.
pub(crate) fn word<'a>(field: &'static str) -> impl FnMut(&'a str) -> Res<'a, &'a str> {
    move |i: &'a str| match take_till1::<_, _, Fail>(|c| c == ' ' || c.is_ascii_control()).parse(i)
    {
        Ok((rest, _)) if rest.starts_with(|c: char| c.is_ascii_control()) => {
            failure(ParseErrorKind::Invalid(field))
        }
        Ok(ok) => Ok(ok),
        Err(_) if i.starts_with(|c: char| c.is_ascii_control()) => {
            failure(ParseErrorKind::Invalid(field))
        }
        Err(_) => failure(ParseErrorKind::Missing(field)),
    }
}

/// A non-empty run of characters up to (not including) any of `stops`.
pub(crate) fn till<'a>(
    stops: &'static [char],
    field: &'static str,
) -> impl FnMut(&'a str) -> Res<'a, &'a str> {
    move |i: &'a str| {
        take_till1(|c| stops.contains(&c))
            .parse(i)
            .or_else(|_: nom::Err<Fail>| failure(ParseErrorKind::Missing(field)))
    }
}

/// A decimal number of type `T`.
///
/// ```abnf
/// 1*DIGIT
/// ```
/// The digits must not run into a letter (`96x` is not a number); a value that does not fit
/// `T` is [`ParseErrorKind::OutOfRange`].
pub(crate) fn number<'a, T: FromStr>(field: &'static str) -> impl FnMut(&'a str) -> Res<'a, T> {
    move |i: &'a str| {
        let Ok((rest, digits)) = digit1::<&str, Fail>(i) else {
            return failure(if i.is_empty() || i.starts_with(' ') {
                ParseErrorKind::Missing(field)
            } else {
                ParseErrorKind::InvalidNumber(field)
            });
        };
        if rest.starts_with(|c: char| c.is_alphanumeric() || c == '.' || c == '-') {
            return failure(ParseErrorKind::InvalidNumber(field));
        }
        match digits.parse::<T>() {
            Ok(value) => Ok((rest, value)),
            Err(_) => failure(ParseErrorKind::OutOfRange(field)),
        }
    }
}

/// `[SP rest]`: an optional trailing free-form value, `None` when absent.
pub(crate) fn opt_tail(i: &str) -> Res<'_, Option<&str>> {
    match i.strip_prefix(' ') {
        Some(rest) if !rest.is_empty() => Ok(("", Some(rest))),
        Some(_) => Ok(("", None)),
        None => Ok((i, None)),
    }
}

/// An RTP payload type, 0 to 127 (RFC 3550 §5.1: 7 bits).
pub(crate) fn payload_type(i: &str) -> Res<'_, PayloadType> {
    let (rest, pt) = number::<u8>("payload type")(i)?;
    match PayloadType::new(pt) {
        Some(pt) => Ok((rest, pt)),
        None => failure(ParseErrorKind::OutOfRange("payload type")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_rejects_letters_and_overflow() {
        assert_eq!(complete(number::<u16>("port"), "port", "9"), Ok(9));
        assert_eq!(
            complete(number::<u16>("port"), "port", "96x"),
            Err(ParseErrorKind::InvalidNumber("port"))
        );
        assert_eq!(
            complete(number::<u16>("port"), "port", "70000"),
            Err(ParseErrorKind::OutOfRange("port"))
        );
        assert_eq!(
            complete(number::<u16>("port"), "port", ""),
            Err(ParseErrorKind::Missing("port"))
        );
        assert_eq!(
            complete(number::<u16>("port"), "port", "-1"),
            Err(ParseErrorKind::InvalidNumber("port"))
        );
    }

    #[test]
    fn payload_type_is_seven_bits() {
        assert_eq!(
            complete(payload_type, "pt", "127"),
            Ok(PayloadType::new(127).unwrap())
        );
        assert_eq!(
            complete(payload_type, "pt", "128"),
            Err(ParseErrorKind::OutOfRange("payload type"))
        );
    }

    #[test]
    fn word_and_tail() {
        let (rest, w) = word("x")("abc def").unwrap();
        assert_eq!((rest, w), (" def", "abc"));
        assert_eq!(opt_tail(" def"), Ok(("", Some("def"))));
        assert_eq!(opt_tail(""), Ok(("", None)));
        assert!(word("x")(" abc").is_err());
        assert_eq!(
            word("x")("ab\tc").unwrap_err(),
            nom::Err::Failure(Fail(ParseErrorKind::Invalid("x")))
        );
    }
}
