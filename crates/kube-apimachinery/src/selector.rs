//! Label and field selectors, as k8s.io/apimachinery's `labels` and `fields` packages and
//! kube-apiserver's per-kind field-label conversions implement them.
//!
//! Label selectors: the query-string grammar (`=`, `==`, `!=`, `in`, `notin`, `key`, `!key`,
//! `>`/`<` on integers, commas; the same lexer and recursive-descent parser as
//! `labels.Parse`, with its error texts) and `metav1.LabelSelector` objects (`matchLabels`,
//! `matchExpressions` with In/NotIn/Exists/DoesNotExist, as `LabelSelectorAsSelector`: a
//! missing selector selects nothing, an empty one everything).
//!
//! Field selectors: `=`, `==`, `!=` terms with kube's escaping (`\,`, `\=`, `\\`),
//! validated per kind against the labels kube-apiserver supports (its
//! `AddFieldLabelConversionFunc` tables, `DefaultMetaV1FieldSelectorConversion` for kinds
//! without one, `metadata.name`/`metadata.namespace` plus `selectableFields` for custom
//! resources) and matched against the kind's field set (`ToSelectableFields`: booleans as
//! `"true"`/`"false"`, absent values as `""`).
//!
//! Known gaps: requirement and term order in rendered selectors follows kube (sorted by key),
//! but Go's nondeterministic map order inside `matchLabels` errors is replaced by key order.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::Value;

use crate::field_error::{FieldError, FieldPath, aggregate_message};
use crate::validation::{is_qualified_name, is_valid_label_value};

/// A selector that could not be parsed or is not supported; the message is what
/// kube-apiserver returns in its 400 `BadRequest` Status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SelectorError(pub String);

/// A label selector operator (`selection.Operator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operator {
    DoesNotExist,
    Equals,
    DoubleEquals,
    In,
    NotEquals,
    NotIn,
    Exists,
    GreaterThan,
    LessThan,
}

impl Operator {
    /// The operator's name as kube spells it in messages (`selection.Operator` strings).
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::DoesNotExist => "!",
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::In => "in",
            Operator::NotEquals => "!=",
            Operator::NotIn => "notin",
            Operator::Exists => "exists",
            Operator::GreaterThan => "gt",
            Operator::LessThan => "lt",
        }
    }
}

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub key: String,
    pub operator: Operator,
    /// Values in the order given (duplicates removed and sorted for set operators).
    pub values: Vec<String>,
}

impl Requirement {
    /// `labels.NewRequirement`: validates the key, the values and their count.
    pub fn new(
        key: &str,
        operator: Operator,
        values: Vec<String>,
        path: &FieldPath,
    ) -> Result<Requirement, Vec<FieldError>> {
        let mut errors = Vec::new();
        let key_errors = is_qualified_name(key);
        if !key_errors.is_empty() {
            errors.push(FieldError::invalid(
                path.child("key"),
                Value::String(key.into()),
                key_errors.join("; "),
            ));
        }
        let values_path = path.child("values");
        // Go passes a nil slice for an empty list, which JSON-encodes as null.
        let values_json = || {
            if values.is_empty() {
                Value::Null
            } else {
                Value::Array(values.iter().cloned().map(Value::String).collect())
            }
        };
        match operator {
            Operator::In | Operator::NotIn => {
                if values.is_empty() {
                    errors.push(FieldError::invalid(
                        &values_path,
                        values_json(),
                        "for 'in', 'notin' operators, values set can't be empty",
                    ));
                }
            }
            Operator::Equals | Operator::DoubleEquals | Operator::NotEquals => {
                if values.len() != 1 {
                    errors.push(FieldError::invalid(
                        &values_path,
                        values_json(),
                        "exact-match compatibility requires one single value",
                    ));
                }
            }
            Operator::Exists | Operator::DoesNotExist => {
                if !values.is_empty() {
                    errors.push(FieldError::invalid(
                        &values_path,
                        values_json(),
                        "values set must be empty for exists and does not exist",
                    ));
                }
            }
            Operator::GreaterThan | Operator::LessThan => {
                if values.len() != 1 {
                    errors.push(FieldError::invalid(
                        &values_path,
                        values_json(),
                        "for 'Gt', 'Lt' operators, exactly one value is required",
                    ));
                }
                for (i, value) in values.iter().enumerate() {
                    if value.parse::<i64>().is_err() {
                        errors.push(FieldError::invalid(
                            values_path.index(i),
                            Value::String(value.clone()),
                            "for 'Gt', 'Lt' operators, the value must be an integer",
                        ));
                    }
                }
            }
        }
        for (i, value) in values.iter().enumerate() {
            let value_errors = is_valid_label_value(value);
            if !value_errors.is_empty() {
                errors.push(FieldError::invalid(
                    values_path.index(i).key(key),
                    Value::String(value.clone()),
                    value_errors.join("; "),
                ));
            }
        }
        if errors.is_empty() {
            Ok(Requirement {
                key: key.to_string(),
                operator,
                values,
            })
        } else {
            Err(errors)
        }
    }

    /// `Requirement.Matches`.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.key);
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => {
                value.is_some_and(|v| self.values.contains(v))
            }
            Operator::NotIn | Operator::NotEquals => value.is_none_or(|v| !self.values.contains(v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let Some(Ok(actual)) = value.map(|v| v.parse::<i64>()) else {
                    return false;
                };
                let [wanted] = self.values.as_slice() else {
                    return false;
                };
                let Ok(wanted) = wanted.parse::<i64>() else {
                    return false;
                };
                if self.operator == Operator::GreaterThan {
                    actual > wanted
                } else {
                    actual < wanted
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.operator == Operator::DoesNotExist {
            f.write_str("!")?;
        }
        f.write_str(&self.key)?;
        let (op, open, close) = match self.operator {
            Operator::Equals => ("=", "", ""),
            Operator::DoubleEquals => ("==", "", ""),
            Operator::NotEquals => ("!=", "", ""),
            Operator::In => (" in ", "(", ")"),
            Operator::NotIn => (" notin ", "(", ")"),
            Operator::GreaterThan => (">", "", ""),
            Operator::LessThan => ("<", "", ""),
            Operator::Exists | Operator::DoesNotExist => return Ok(()),
        };
        let mut values = self.values.clone();
        values.sort();
        write!(f, "{op}{open}{}{close}", values.join(","))
    }
}

/// A label selector: a conjunction of requirements, or the selector that matches nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
    nothing: bool,
}

impl LabelSelector {
    /// Matches every object (`labels.Everything()`).
    pub fn everything() -> Self {
        LabelSelector {
            requirements: Vec::new(),
            nothing: false,
        }
    }

    /// Matches no object (`labels.Nothing()`, a nil `metav1.LabelSelector`).
    pub fn nothing() -> Self {
        LabelSelector {
            requirements: Vec::new(),
            nothing: true,
        }
    }

    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// True when the selector matches everything.
    pub fn is_everything(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }

    /// `labels.Parse`: the `labelSelector` query-string form.
    pub fn parse(selector: &str) -> Result<Self, SelectorError> {
        let mut parser = Parser::new(selector);
        let mut requirements = parser.parse()?;
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector {
            requirements,
            nothing: false,
        })
    }

    /// `metav1.LabelSelectorAsSelector` on a `LabelSelector` object: `null`/absent selects
    /// nothing, `{}` everything.
    pub fn from_label_selector(selector: Option<&Value>) -> Result<Self, SelectorError> {
        let selector = match selector {
            None | Some(Value::Null) => return Ok(LabelSelector::nothing()),
            Some(Value::Object(map)) => map,
            Some(other) => {
                return Err(SelectorError(format!(
                    "invalid label selector: expected an object, got {other}"
                )));
            }
        };
        let match_labels = match selector.get("matchLabels") {
            None | Some(Value::Null) => serde_json::Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => {
                return Err(SelectorError(
                    "invalid label selector: matchLabels must be a map of strings".into(),
                ));
            }
        };
        let match_expressions = match selector.get("matchExpressions") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items.clone(),
            Some(_) => {
                return Err(SelectorError(
                    "invalid label selector: matchExpressions must be a list".into(),
                ));
            }
        };
        if match_labels.is_empty() && match_expressions.is_empty() {
            return Ok(LabelSelector::everything());
        }
        let mut requirements = Vec::new();
        let mut label_entries: Vec<(&String, &Value)> = match_labels.iter().collect();
        label_entries.sort_by(|a, b| a.0.cmp(b.0));
        for (key, value) in label_entries {
            let Some(value) = value.as_str() else {
                return Err(SelectorError(format!(
                    "invalid label selector: matchLabels[{key}] must be a string"
                )));
            };
            let requirement = Requirement::new(
                key,
                Operator::Equals,
                vec![value.to_string()],
                &FieldPath::nil(),
            )
            .map_err(|errors| SelectorError(aggregate_message(&errors)))?;
            requirements.push(requirement);
        }
        for expression in &match_expressions {
            let key = expression.get("key").and_then(Value::as_str).unwrap_or("");
            let operator_name = expression
                .get("operator")
                .and_then(Value::as_str)
                .unwrap_or("");
            let operator = match operator_name {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => {
                    return Err(SelectorError(format!(
                        "{} is not a valid label selector operator",
                        crate::field_error::go_quote(other)
                    )));
                }
            };
            let values: Vec<String> = expression
                .get("values")
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .map(|v| v.as_str().unwrap_or("").to_string())
                        .collect()
                })
                .unwrap_or_default();
            let requirement = Requirement::new(key, operator, values, &FieldPath::nil())
                .map_err(|errors| SelectorError(aggregate_message(&errors)))?;
            requirements.push(requirement);
        }
        Ok(LabelSelector {
            requirements,
            nothing: false,
        })
    }

    /// Whether a label set satisfies every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        !self.nothing && self.requirements.iter().all(|r| r.matches(labels))
    }

    /// Matches an object by its `metadata.labels`.
    pub fn matches_object(&self, object: &Value) -> bool {
        self.matches(&object_labels(object))
    }
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.requirements.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join(","))
    }
}

/// The `metadata.labels` of an object as a map (non-string values ignored).
pub fn object_labels(object: &Value) -> BTreeMap<String, String> {
    object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|map| {
            map.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Error,
    EndOfString,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

fn literal_token(s: &[u8]) -> Option<Token> {
    Some(match s {
        b")" => Token::ClosedPar,
        b"," => Token::Comma,
        b"!" => Token::DoesNotExist,
        b"==" => Token::DoubleEquals,
        b"=" => Token::Equals,
        b">" => Token::GreaterThan,
        b"in" => Token::In,
        b"<" => Token::LessThan,
        b"!=" => Token::NotEquals,
        b"notin" => Token::NotIn,
        b"(" => Token::OpenPar,
        _ => return None,
    })
}

fn is_whitespace(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special_symbol(c: u8) -> bool {
    matches!(c, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

/// The lexer of `labels.Lexer`, byte for byte.
fn lex(input: &[u8]) -> Vec<(Token, String)> {
    let mut items = Vec::new();
    let mut pos = 0;
    let read = |pos: &mut usize| -> u8 {
        let c = input.get(*pos).copied().unwrap_or(0);
        *pos += 1;
        c
    };
    loop {
        // skip white space
        let mut c = read(&mut pos);
        while is_whitespace(c) {
            c = read(&mut pos);
        }
        if c == 0 {
            items.push((Token::EndOfString, String::new()));
            return items;
        }
        pos -= 1;
        if is_special_symbol(c) {
            let mut buffer: Vec<u8> = Vec::new();
            let mut last: Option<(Token, String)> = None;
            loop {
                let c = read(&mut pos);
                if c == 0 {
                    break;
                }
                if is_special_symbol(c) {
                    buffer.push(c);
                    if let Some(token) = literal_token(&buffer) {
                        last = Some((token, String::from_utf8_lossy(&buffer).into_owned()));
                    } else if last.is_some() {
                        pos -= 1;
                        break;
                    }
                } else {
                    pos -= 1;
                    break;
                }
            }
            match last {
                Some(item) => items.push(item),
                None => items.push((
                    Token::Error,
                    format!(
                        "error expected: keyword found '{}'",
                        String::from_utf8_lossy(&buffer)
                    ),
                )),
            }
        } else {
            let start = pos;
            let end = loop {
                let c = read(&mut pos);
                if c == 0 {
                    // End of input, or a NUL byte (which Go's lexer also stops at).
                    break (pos - 1).min(input.len());
                }
                if is_special_symbol(c) || is_whitespace(c) {
                    pos -= 1;
                    break pos;
                }
            };
            let word = &input[start..end];
            let token = literal_token(word).unwrap_or(Token::Identifier);
            items.push((token, String::from_utf8_lossy(word).into_owned()));
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    KeyAndOperator,
    Values,
}

/// The recursive-descent parser of `labels.Parser`.
struct Parser {
    items: Vec<(Token, String)>,
    position: usize,
}

impl Parser {
    fn new(selector: &str) -> Self {
        Parser {
            items: lex(selector.as_bytes()),
            position: 0,
        }
    }

    fn adjust(token: Token, context: Context) -> Token {
        if context == Context::Values && matches!(token, Token::In | Token::NotIn) {
            Token::Identifier
        } else {
            token
        }
    }

    fn lookahead(&self, context: Context) -> (Token, String) {
        let index = self.position.min(self.items.len() - 1);
        let (token, literal) = &self.items[index];
        (Self::adjust(*token, context), literal.clone())
    }

    fn consume(&mut self, context: Context) -> (Token, String) {
        let item = self.lookahead(context);
        self.position += 1;
        item
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, SelectorError> {
        let mut requirements = Vec::new();
        loop {
            let (token, literal) = self.lookahead(Context::Values);
            match token {
                Token::Identifier | Token::DoesNotExist => {
                    let requirement = self.parse_requirement().map_err(|e| {
                        SelectorError(format!("unable to parse requirement: {}", e.0))
                    })?;
                    requirements.push(requirement);
                    let (token, literal) = self.consume(Context::Values);
                    match token {
                        Token::EndOfString => return Ok(requirements),
                        Token::Comma => {
                            let (next, next_literal) = self.lookahead(Context::Values);
                            if next != Token::Identifier && next != Token::DoesNotExist {
                                return Err(SelectorError(format!(
                                    "found '{next_literal}', expected: identifier after ','"
                                )));
                            }
                        }
                        _ => {
                            return Err(SelectorError(format!(
                                "found '{literal}', expected: ',' or 'end of string'"
                            )));
                        }
                    }
                }
                Token::EndOfString => return Ok(requirements),
                _ => {
                    return Err(SelectorError(format!(
                        "found '{literal}', expected: !, identifier, or 'end of string'"
                    )));
                }
            }
        }
    }

    fn parse_requirement(&mut self) -> Result<Requirement, SelectorError> {
        let (key, inferred) = self.parse_key_and_infer_operator()?;
        if let Some(operator) = inferred {
            return Requirement::new(&key, operator, Vec::new(), &FieldPath::nil())
                .map_err(|errors| SelectorError(aggregate_message(&errors)));
        }
        let operator = self.parse_operator()?;
        let values = match operator {
            Operator::In | Operator::NotIn => self.parse_values()?,
            _ => self.parse_exact_value()?,
        };
        Requirement::new(
            &key,
            operator,
            values.into_iter().collect(),
            &FieldPath::nil(),
        )
        .map_err(|errors| SelectorError(aggregate_message(&errors)))
    }

    fn parse_key_and_infer_operator(
        &mut self,
    ) -> Result<(String, Option<Operator>), SelectorError> {
        let mut operator = None;
        let (mut token, mut literal) = self.consume(Context::Values);
        if token == Token::DoesNotExist {
            operator = Some(Operator::DoesNotExist);
            (token, literal) = self.consume(Context::Values);
        }
        if token != Token::Identifier {
            return Err(SelectorError(format!(
                "found '{literal}', expected: identifier"
            )));
        }
        let key_errors = is_qualified_name(&literal);
        if !key_errors.is_empty() {
            return Err(SelectorError(
                FieldError::invalid(
                    FieldPath::nil(),
                    Value::String(literal.clone()),
                    key_errors.join("; "),
                )
                .to_string(),
            ));
        }
        let (next, _) = self.lookahead(Context::Values);
        if (next == Token::EndOfString || next == Token::Comma) && operator.is_none() {
            operator = Some(Operator::Exists);
        }
        Ok((literal, operator))
    }

    fn parse_operator(&mut self) -> Result<Operator, SelectorError> {
        let (token, literal) = self.consume(Context::KeyAndOperator);
        Ok(match token {
            Token::In => Operator::In,
            Token::Equals => Operator::Equals,
            Token::DoubleEquals => Operator::DoubleEquals,
            Token::GreaterThan => Operator::GreaterThan,
            Token::LessThan => Operator::LessThan,
            Token::NotIn => Operator::NotIn,
            Token::NotEquals => Operator::NotEquals,
            _ => {
                return Err(SelectorError(format!(
                    "found '{literal}', expected: in, notin, =, ==, !=, gt, lt"
                )));
            }
        })
    }

    fn parse_values(&mut self) -> Result<BTreeSet<String>, SelectorError> {
        let (token, literal) = self.consume(Context::Values);
        if token != Token::OpenPar {
            return Err(SelectorError(format!("found '{literal}' expected: '('")));
        }
        let (token, literal) = self.lookahead(Context::Values);
        match token {
            Token::Identifier | Token::Comma => {
                let values = self.parse_identifiers_list()?;
                let (token, _) = self.consume(Context::Values);
                if token != Token::ClosedPar {
                    return Err(SelectorError(format!("found '{literal}', expected: ')'")));
                }
                Ok(values)
            }
            Token::ClosedPar => {
                self.consume(Context::Values);
                Ok(BTreeSet::from([String::new()]))
            }
            _ => Err(SelectorError(format!(
                "found '{literal}', expected: ',', ')' or identifier"
            ))),
        }
    }

    fn parse_identifiers_list(&mut self) -> Result<BTreeSet<String>, SelectorError> {
        let mut values = BTreeSet::new();
        loop {
            let (token, literal) = self.consume(Context::Values);
            match token {
                Token::Identifier => {
                    values.insert(literal);
                    let (next, next_literal) = self.lookahead(Context::Values);
                    match next {
                        Token::Comma => continue,
                        Token::ClosedPar => return Ok(values),
                        _ => {
                            return Err(SelectorError(format!(
                                "found '{next_literal}', expected: ',' or ')'"
                            )));
                        }
                    }
                }
                Token::Comma => {
                    if values.is_empty() {
                        values.insert(String::new());
                    }
                    let (next, _) = self.lookahead(Context::Values);
                    if next == Token::ClosedPar {
                        values.insert(String::new());
                        return Ok(values);
                    }
                    if next == Token::Comma {
                        self.consume(Context::Values);
                        values.insert(String::new());
                    }
                }
                _ => {
                    return Err(SelectorError(format!(
                        "found '{literal}', expected: ',', or identifier"
                    )));
                }
            }
        }
    }

    fn parse_exact_value(&mut self) -> Result<BTreeSet<String>, SelectorError> {
        let (token, _) = self.lookahead(Context::Values);
        if token == Token::EndOfString || token == Token::Comma {
            return Ok(BTreeSet::from([String::new()]));
        }
        let (token, literal) = self.consume(Context::Values);
        if token == Token::Identifier {
            Ok(BTreeSet::from([literal]))
        } else {
            Err(SelectorError(format!(
                "found '{literal}', expected: identifier"
            )))
        }
    }
}

/// One term of a field selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldTerm {
    pub field: String,
    pub value: String,
    /// `!=` rather than `=`/`==`.
    pub negated: bool,
}

/// A field selector: a conjunction of equality terms.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldSelector {
    terms: Vec<FieldTerm>,
}

/// What a field selector is validated against.
#[derive(Debug, Clone, Copy)]
pub enum FieldSelectorTarget<'a> {
    /// A built-in kind (group "" for the core group).
    BuiltIn { group: &'a str, kind: &'a str },
    /// A custom resource: `metadata.name`, `metadata.namespace` (namespaced kinds only) and
    /// the version's `selectableFields` (as field names, e.g. `spec.color`).
    Custom {
        namespaced: bool,
        selectable_fields: &'a [String],
    },
}

impl FieldSelector {
    /// The selector that matches everything.
    pub fn everything() -> Self {
        FieldSelector::default()
    }

    pub fn terms(&self) -> &[FieldTerm] {
        &self.terms
    }

    pub fn is_everything(&self) -> bool {
        self.terms.is_empty()
    }

    /// `fields.ParseSelector`.
    pub fn parse(selector: &str) -> Result<Self, SelectorError> {
        let mut parts = split_terms(selector);
        parts.sort();
        let mut terms = Vec::new();
        for part in parts {
            if part.is_empty() {
                continue;
            }
            let Some((lhs, op, rhs)) = split_term(&part) else {
                return Err(SelectorError(format!(
                    "invalid selector: '{selector}'; can't understand '{part}'"
                )));
            };
            let value = unescape_value(rhs)?;
            terms.push(FieldTerm {
                field: lhs.to_string(),
                value,
                negated: op == "!=",
            });
        }
        Ok(FieldSelector { terms })
    }

    /// Applies kube-apiserver's field-label conversion for the target kind: unsupported
    /// labels fail with its message; aliases are rewritten to the field-set name
    /// (`spec.host` → `spec.nodeName`, `regarding.kind` → `involvedObject.kind`, ...).
    pub fn validate_for(&self, target: FieldSelectorTarget<'_>) -> Result<Self, SelectorError> {
        let terms = self
            .terms
            .iter()
            .map(|term| {
                convert_field_label(target, &term.field).map(|field| FieldTerm {
                    field,
                    value: term.value.clone(),
                    negated: term.negated,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(FieldSelector { terms })
    }

    /// Whether an object satisfies every term (labels as converted by `validate_for`).
    pub fn matches(&self, object: &Value) -> bool {
        self.terms.iter().all(|term| {
            let actual = field_value(object, &term.field);
            (actual == term.value) != term.negated
        })
    }
}

impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .terms
            .iter()
            .map(|t| {
                let op = if t.negated { "!=" } else { "=" };
                format!("{}{op}{}", t.field, escape_value(&t.value))
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// `fields.EscapeValue`.
pub fn escape_value(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace(',', "\\,")
        .replace('=', "\\=")
}

fn split_terms(selector: &str) -> Vec<String> {
    if selector.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut in_slash = false;
    for (i, c) in selector.char_indices() {
        if in_slash {
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' {
            terms.push(selector[start..i].to_string());
            start = i + 1;
        }
    }
    terms.push(selector[start..].to_string());
    terms
}

fn split_term(term: &str) -> Option<(&str, &str, &str)> {
    for (i, _) in term.char_indices() {
        let remaining = &term[i..];
        for op in ["!=", "==", "="] {
            if remaining.starts_with(op) {
                return Some((&term[..i], op, &term[i + op.len()..]));
            }
        }
    }
    None
}

fn unescape_value(s: &str) -> Result<String, SelectorError> {
    if !s.contains(['\\', ',', '=']) {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut in_slash = false;
    for c in s.chars() {
        if in_slash {
            match c {
                '\\' | ',' | '=' => out.push(c),
                other => {
                    return Err(SelectorError(format!(
                        "invalid field selector: invalid escape sequence: \\{other}"
                    )));
                }
            }
            in_slash = false;
            continue;
        }
        match c {
            '\\' => in_slash = true,
            ',' | '=' => {
                // Go prints the rune with %v, i.e. its code point.
                return Err(SelectorError(format!(
                    "invalid field selector: unescaped character in value: {}",
                    c as u32
                )));
            }
            other => out.push(other),
        }
    }
    if in_slash {
        return Err(SelectorError(
            "invalid field selector: invalid escape sequence: \\".into(),
        ));
    }
    Ok(out)
}

fn unsupported(label: &str) -> SelectorError {
    SelectorError(format!("field label not supported: {label}"))
}

fn convert_field_label(
    target: FieldSelectorTarget<'_>,
    label: &str,
) -> Result<String, SelectorError> {
    let supported = |labels: &[&str]| {
        if labels.contains(&label) {
            Ok(label.to_string())
        } else {
            Err(unsupported(label))
        }
    };
    match target {
        FieldSelectorTarget::Custom {
            namespaced,
            selectable_fields,
        } => {
            if label == "metadata.name"
                || (namespaced && label == "metadata.namespace")
                || selectable_fields.iter().any(|f| f == label)
            {
                Ok(label.to_string())
            } else {
                Err(unsupported(label))
            }
        }
        FieldSelectorTarget::BuiltIn { group: "", kind } => match kind {
            "Pod" => {
                if label == "spec.host" {
                    return Ok("spec.nodeName".into());
                }
                supported(&[
                    "metadata.name",
                    "metadata.namespace",
                    "spec.nodeName",
                    "spec.restartPolicy",
                    "spec.schedulerName",
                    "spec.serviceAccountName",
                    "spec.hostNetwork",
                    "status.phase",
                    "status.podIP",
                    "status.podIPs",
                    "status.nominatedNodeName",
                ])
            }
            "Node" => supported(&["metadata.name", "spec.unschedulable"]),
            "Event" => supported(&[
                "involvedObject.kind",
                "involvedObject.namespace",
                "involvedObject.name",
                "involvedObject.uid",
                "involvedObject.apiVersion",
                "involvedObject.resourceVersion",
                "involvedObject.fieldPath",
                "reason",
                "reportingComponent",
                "source",
                "type",
                "metadata.namespace",
                "metadata.name",
            ]),
            "Namespace" => supported(&["status.phase", "metadata.name"]),
            "Secret" => supported(&["type", "metadata.namespace", "metadata.name"]),
            "ReplicationController" => {
                supported(&["metadata.name", "metadata.namespace", "status.replicas"])
            }
            _ => default_meta_conversion(label),
        },
        FieldSelectorTarget::BuiltIn {
            group: "events.k8s.io",
            kind: "Event",
        } => {
            let mapped = match label {
                "reason" | "source" | "type" | "metadata.namespace" | "metadata.name" => label,
                "regarding.kind" => "involvedObject.kind",
                "regarding.namespace" => "involvedObject.namespace",
                "regarding.name" => "involvedObject.name",
                "regarding.uid" => "involvedObject.uid",
                "regarding.apiVersion" => "involvedObject.apiVersion",
                "regarding.resourceVersion" => "involvedObject.resourceVersion",
                "regarding.fieldPath" => "involvedObject.fieldPath",
                "reportingController" => "reportingComponent",
                _ => return Err(unsupported(label)),
            };
            Ok(mapped.to_string())
        }
        FieldSelectorTarget::BuiltIn { .. } => default_meta_conversion(label),
    }
}

/// `runtime.DefaultMetaV1FieldSelectorConversion`.
fn default_meta_conversion(label: &str) -> Result<String, SelectorError> {
    match label {
        "metadata.name" | "metadata.namespace" => Ok(label.to_string()),
        _ => Err(SelectorError(format!(
            "\"{label}\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
        ))),
    }
}

fn scalar_string(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn dotted(object: &Value, path: &str) -> Option<Value> {
    let mut current = object;
    for part in path.split('.') {
        current = current.get(part)?;
    }
    Some(current.clone())
}

/// The value an object has for a field-set label (`ToSelectableFields`).
pub fn field_value(object: &Value, label: &str) -> String {
    let is_events_v1 = object.get("apiVersion").and_then(Value::as_str) == Some("events.k8s.io/v1");
    match label {
        "spec.hostNetwork" | "spec.unschedulable" => {
            let value = dotted(object, label)
                .and_then(|v| v.as_bool())
                .unwrap_or(false);
            value.to_string()
        }
        "status.podIP" => {
            let from_list = object
                .pointer("/status/podIPs/0/ip")
                .and_then(Value::as_str)
                .map(str::to_string);
            from_list.unwrap_or_else(|| scalar_string(object.pointer("/status/podIP")))
        }
        "status.podIPs" => String::new(),
        _ if is_events_v1 => events_v1_field(object, label),
        "source" => {
            let component = scalar_string(object.pointer("/source/component"));
            if component.is_empty() {
                scalar_string(object.get("reportingComponent"))
            } else {
                component
            }
        }
        _ => scalar_string(dotted(object, label).as_ref()),
    }
}

fn events_v1_field(object: &Value, label: &str) -> String {
    if let Some(rest) = label.strip_prefix("involvedObject.") {
        return scalar_string(object.get("regarding").and_then(|r| r.get(rest)));
    }
    match label {
        "reportingComponent" => scalar_string(object.get("reportingController")),
        "source" => {
            let component = scalar_string(object.pointer("/deprecatedSource/component"));
            if component.is_empty() {
                scalar_string(object.get("reportingController"))
            } else {
                component
            }
        }
        _ => scalar_string(dotted(object, label).as_ref()),
    }
}

/// The field names a CRD version's `selectableFields` declares (`.spec.color` → `spec.color`).
pub fn crd_selectable_fields(crd_version: &Value) -> Vec<String> {
    crd_version
        .get("selectableFields")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item.get("jsonPath").and_then(Value::as_str))
                .map(|path| path.trim_start_matches('.').to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn parse(s: &str) -> LabelSelector {
        LabelSelector::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn parse_err(s: &str) -> String {
        LabelSelector::parse(s).expect_err(s).0
    }

    #[test]
    fn equality_and_inequality() {
        let l = labels(&[("app", "web"), ("tier", "front")]);
        assert!(parse("app=web").matches(&l));
        assert!(parse("app==web").matches(&l));
        assert!(parse("app = web").matches(&l));
        assert!(!parse("app=db").matches(&l));
        assert!(parse("app!=db").matches(&l));
        assert!(parse("missing!=x").matches(&l));
        assert!(!parse("app!=web").matches(&l));
        assert!(parse("app=web,tier=front").matches(&l));
        assert!(!parse("app=web,tier=back").matches(&l));
    }

    #[test]
    fn set_based() {
        let l = labels(&[("env", "prod")]);
        assert!(parse("env in (prod, dev)").matches(&l));
        assert!(!parse("env notin (prod,dev)").matches(&l));
        assert!(parse("other notin (a)").matches(&l));
        assert!(!parse("other in (a)").matches(&l));
        assert!(parse("env").matches(&l));
        assert!(!parse("!env").matches(&l));
        assert!(parse("!other").matches(&l));
        assert!(parse("env in (prod),!other").matches(&l));
        // values may be keywords
        assert!(parse("x in (in, notin)").matches(&labels(&[("x", "notin")])));
    }

    #[test]
    fn empty_values() {
        assert!(parse("a=").matches(&labels(&[("a", "")])));
        assert!(parse("a in ()").matches(&labels(&[("a", "")])));
        assert!(parse("a in (,b)").matches(&labels(&[("a", "")])));
        assert!(parse("").matches(&labels(&[])));
        assert!(parse("").is_everything());
    }

    #[test]
    fn greater_and_less_than() {
        let l = labels(&[("n", "5")]);
        assert!(parse("n>4").matches(&l));
        assert!(!parse("n>5").matches(&l));
        assert!(parse("n<6").matches(&l));
        assert!(!parse("m<6").matches(&l));
        assert!(!parse("n>4").matches(&labels(&[("n", "x")])));
        assert_eq!(
            parse_err("n>x"),
            "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, the value must be an integer"
        );
    }

    #[test]
    fn parse_errors_match_kube() {
        assert_eq!(parse_err("a,"), "found '', expected: identifier after ','");
        assert_eq!(
            parse_err("a in b"),
            "unable to parse requirement: found 'b' expected: '('"
        );
        assert_eq!(
            parse_err("a in (b"),
            "unable to parse requirement: found '', expected: ',' or ')'"
        );
        assert_eq!(
            parse_err("=a"),
            "found '=', expected: !, identifier, or 'end of string'"
        );
        assert_eq!(
            parse_err("a b"),
            "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"
        );
        assert_eq!(
            parse_err("a=b c"),
            "found 'c', expected: ',' or 'end of string'"
        );
        assert_eq!(
            parse_err("a_=b"),
            "unable to parse requirement: <nil>: Invalid value: \"a_\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        );
        assert_eq!(
            parse_err("a=b_"),
            "unable to parse requirement: values[0][a]: Invalid value: \"b_\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
        );
        assert_eq!(
            parse_err("a=(b)"),
            "unable to parse requirement: found '(', expected: identifier"
        );
        assert_eq!(
            parse_err("a\0b"),
            "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"
        );
        assert_eq!(
            parse_err("!!a"),
            "unable to parse requirement: found '!', expected: identifier"
        );
    }

    #[test]
    fn display_is_sorted_and_canonical() {
        assert_eq!(
            parse("z=1, a in (c,b), !m, n").to_string(),
            "a in (b,c),!m,n,z=1"
        );
    }

    #[test]
    fn label_selector_objects() {
        let selector = LabelSelector::from_label_selector(Some(&json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "env", "operator": "In", "values": ["prod", "dev"]},
                {"key": "legacy", "operator": "DoesNotExist"}
            ]
        })))
        .expect("valid");
        assert!(selector.matches(&labels(&[("app", "web"), ("env", "dev")])));
        assert!(!selector.matches(&labels(&[("app", "web"), ("env", "qa")])));
        assert!(!selector.matches(&labels(&[("app", "web"), ("env", "dev"), ("legacy", "1")])));

        let everything = LabelSelector::from_label_selector(Some(&json!({}))).expect("empty");
        assert!(everything.matches(&labels(&[])));
        let nothing = LabelSelector::from_label_selector(None).expect("nil");
        assert!(!nothing.matches(&labels(&[])));
        assert!(
            !LabelSelector::from_label_selector(Some(&Value::Null))
                .expect("null")
                .matches(&labels(&[("a", "b")]))
        );
    }

    #[test]
    fn label_selector_object_errors() {
        let err = LabelSelector::from_label_selector(Some(&json!({
            "matchExpressions": [{"key": "a", "operator": "Equals", "values": ["x"]}]
        })))
        .expect_err("bad op");
        assert_eq!(err.0, "\"Equals\" is not a valid label selector operator");
        let err = LabelSelector::from_label_selector(Some(&json!({
            "matchExpressions": [{"key": "a", "operator": "In", "values": []}]
        })))
        .expect_err("empty values");
        assert_eq!(
            err.0,
            "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty"
        );
        let err = LabelSelector::from_label_selector(Some(&json!({
            "matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]
        })))
        .expect_err("values on exists");
        assert!(
            err.0
                .contains("values set must be empty for exists and does not exist")
        );
        let err = LabelSelector::from_label_selector(Some(&json!({"matchLabels": {"a": "b c"}})))
            .expect_err("bad value");
        assert!(
            err.0.starts_with("values[0][a]: Invalid value: \"b c\""),
            "{}",
            err.0
        );
        let err = LabelSelector::from_label_selector(Some(&json!({"matchLabels": {"a b": "c"}})))
            .expect_err("bad key");
        assert!(
            err.0.starts_with("key: Invalid value: \"a b\""),
            "{}",
            err.0
        );
    }

    #[test]
    fn matches_object_labels() {
        let object = json!({"metadata": {"labels": {"app": "web"}}});
        assert!(parse("app=web").matches_object(&object));
        assert!(!parse("app=db").matches_object(&object));
        assert!(parse("!app2").matches_object(&json!({})));
    }

    #[test]
    fn field_selector_parse_and_match() {
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p1", "namespace": "ns1"},
            "spec": {"nodeName": "node-1", "hostNetwork": true},
            "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.5"}]}
        });
        let target = FieldSelectorTarget::BuiltIn {
            group: "",
            kind: "Pod",
        };
        let check = |s: &str| {
            FieldSelector::parse(s)
                .expect("parse")
                .validate_for(target)
                .expect("supported")
                .matches(&pod)
        };
        assert!(check("metadata.name=p1"));
        assert!(check("metadata.name==p1,metadata.namespace=ns1"));
        assert!(!check("metadata.name!=p1"));
        assert!(check("spec.nodeName=node-1"));
        assert!(check("spec.host=node-1"));
        assert!(check("spec.hostNetwork=true"));
        assert!(check("status.podIP=10.0.0.5"));
        assert!(check("status.phase!=Pending"));
        assert!(check("spec.schedulerName="));
        assert!(check(""));
    }

    #[test]
    fn field_selector_unsupported_labels() {
        let err = FieldSelector::parse("spec.foo=x")
            .expect("parse")
            .validate_for(FieldSelectorTarget::BuiltIn {
                group: "",
                kind: "Pod",
            })
            .expect_err("unsupported");
        assert_eq!(err.0, "field label not supported: spec.foo");
        let err = FieldSelector::parse("spec.type=x")
            .expect("parse")
            .validate_for(FieldSelectorTarget::BuiltIn {
                group: "",
                kind: "Service",
            })
            .expect_err("unsupported");
        assert_eq!(
            err.0,
            "\"spec.type\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
        );
        let node = FieldSelectorTarget::BuiltIn {
            group: "",
            kind: "Node",
        };
        assert!(
            FieldSelector::parse("metadata.namespace=x")
                .expect("parse")
                .validate_for(node)
                .is_err()
        );
        let unschedulable = FieldSelector::parse("spec.unschedulable=false")
            .expect("parse")
            .validate_for(node)
            .expect("supported");
        assert!(unschedulable.matches(&json!({"metadata": {"name": "n"}})));
    }

    #[test]
    fn field_selector_syntax_errors() {
        assert_eq!(
            FieldSelector::parse("abc").expect_err("no op").0,
            "invalid selector: 'abc'; can't understand 'abc'"
        );
        assert_eq!(
            FieldSelector::parse("a=b\\x").expect_err("escape").0,
            "invalid field selector: invalid escape sequence: \\x"
        );
        assert_eq!(
            FieldSelector::parse("a=b=c").expect_err("unescaped").0,
            "invalid field selector: unescaped character in value: 61"
        );
        let selector = FieldSelector::parse("metadata.name=a\\,b").expect("escaped comma");
        assert_eq!(selector.terms()[0].value, "a,b");
        assert_eq!(selector.to_string(), "metadata.name=a\\,b");
    }

    #[test]
    fn custom_resource_fields() {
        let fields =
            crd_selectable_fields(&json!({"selectableFields": [{"jsonPath": ".spec.tier"}]}));
        assert_eq!(fields, vec!["spec.tier".to_string()]);
        let cluster_scoped = FieldSelectorTarget::Custom {
            namespaced: false,
            selectable_fields: &fields,
        };
        let selector = FieldSelector::parse("spec.tier=application")
            .expect("parse")
            .validate_for(cluster_scoped)
            .expect("selectable");
        assert!(selector.matches(&json!({"spec": {"tier": "application"}})));
        assert!(!selector.matches(&json!({"spec": {"tier": "baseline"}})));
        assert_eq!(
            FieldSelector::parse("metadata.namespace=x")
                .expect("parse")
                .validate_for(cluster_scoped)
                .expect_err("cluster scoped")
                .0,
            "field label not supported: metadata.namespace"
        );
        assert!(
            FieldSelector::parse("spec.priority=1")
                .expect("parse")
                .validate_for(cluster_scoped)
                .is_err()
        );
    }

    #[test]
    fn events_in_both_groups() {
        let core_event = json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "e", "namespace": "ns"},
            "involvedObject": {"kind": "Pod", "name": "p1"},
            "reason": "Started", "source": {"component": "kubelet"}, "type": "Normal"
        });
        let selector =
            FieldSelector::parse("involvedObject.kind=Pod,source=kubelet,reason=Started")
                .expect("parse")
                .validate_for(FieldSelectorTarget::BuiltIn {
                    group: "",
                    kind: "Event",
                })
                .expect("supported");
        assert!(selector.matches(&core_event));
        let v1_event = json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "e", "namespace": "ns"},
            "regarding": {"kind": "Pod", "name": "p1"},
            "reportingController": "ctrl", "type": "Warning"
        });
        let selector = FieldSelector::parse(
            "regarding.kind=Pod,reportingController=ctrl,type=Warning,source=ctrl",
        )
        .expect("parse")
        .validate_for(FieldSelectorTarget::BuiltIn {
            group: "events.k8s.io",
            kind: "Event",
        })
        .expect("supported");
        assert!(selector.matches(&v1_event));
    }

    proptest! {
        #[test]
        fn parse_never_panics(input in ".{0,40}") {
            let _ = LabelSelector::parse(&input);
            let _ = FieldSelector::parse(&input);
        }

        #[test]
        fn rendered_selector_reparses_to_same_meaning(
            keys in proptest::collection::btree_set("[a-z][a-z0-9]{0,5}", 1..4),
            value in "[a-z0-9]{0,5}",
        ) {
            let text: Vec<String> = keys.iter().map(|k| format!("{k}={value}")).collect();
            let selector = LabelSelector::parse(&text.join(",")).expect("valid");
            let reparsed = LabelSelector::parse(&selector.to_string()).expect("rendered is valid");
            prop_assert_eq!(selector.clone(), reparsed);
            let all: BTreeMap<String, String> = keys.iter().map(|k| (k.clone(), value.clone())).collect();
            prop_assert!(selector.matches(&all));
        }
    }
}
