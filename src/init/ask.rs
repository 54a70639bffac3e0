//! `jprov init`'s questions: a value a flag gave is parsed as it is; a missing one is asked on the terminal
//! (again until it parses, the reason shown, never the value) or, without a terminal, taken from its default
//! or refused, naming the flag that gives it.

use super::InitError;
use std::io::{BufRead, Write};

/// One value `jprov init` needs: the flag that gives it, the question that asks for it, a default.
pub struct Question<'q> {
    flag: &'static str,
    prompt: &'q str,
    default: Option<String>,
    /// The default is only the terminal's: a script must say it (`--method`).
    asked_only: bool,
}

impl<'q> Question<'q> {
    pub fn new(flag: &'static str, prompt: &'q str) -> Question<'q> {
        Question {
            flag,
            prompt,
            default: None,
            asked_only: false,
        }
    }

    /// A default offered on the terminal only.
    pub fn suggest(mut self, value: &str) -> Question<'q> {
        self.default = Some(value.to_string());
        self.asked_only = true;
        self
    }

    pub fn default(self, value: &str) -> Question<'q> {
        self.default_opt(Some(value.to_string()))
    }

    pub fn default_opt(mut self, value: Option<String>) -> Question<'q> {
        self.default = value;
        self
    }
}

/// Where missing answers come from: a terminal, or nowhere.
pub struct Asking<'a> {
    terminal: Option<(&'a mut dyn BufRead, &'a mut dyn Write)>,
}

impl<'a> Asking<'a> {
    /// No terminal: flags and defaults only.
    pub fn nobody() -> Asking<'a> {
        Asking { terminal: None }
    }

    /// Questions on `output` (stderr), answers from `input` (the terminal's lines).
    pub fn terminal(input: &'a mut dyn BufRead, output: &'a mut dyn Write) -> Asking<'a> {
        Asking {
            terminal: Some((input, output)),
        }
    }

    pub fn interactive(&self) -> bool {
        self.terminal.is_some()
    }

    /// The value: given, answered, or the default.
    pub fn required<T>(
        &mut self,
        given: Option<&str>,
        question: Question,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, InitError> {
        let flag = question.flag;
        if let Some(value) = given {
            return parse(value).map_err(super::invalid(flag));
        }
        if self.terminal.is_none() {
            return match question.default.as_ref().filter(|_| !question.asked_only) {
                Some(value) => parse(value).map_err(super::invalid(flag)),
                None => Err(InitError::Missing {
                    flag,
                    what: question.prompt.to_string(),
                }),
            };
        }
        loop {
            match self.ask(&question)? {
                Some(answer) => match parse(&answer) {
                    Ok(value) => return Ok(value),
                    Err(why) => self.say(&format!("  {why}")),
                },
                None => self.say("  an answer is needed"),
            }
        }
    }

    /// The value if given or answered (an empty answer takes the default, if any); none without a terminal.
    pub fn optional<T>(
        &mut self,
        given: Option<&str>,
        question: Question,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Option<T>, InitError> {
        if let Some(value) = given {
            return parse(value)
                .map(Some)
                .map_err(super::invalid(question.flag));
        }
        if self.terminal.is_none() {
            return Ok(None);
        }
        loop {
            let Some(answer) = self.ask(&question)? else {
                return Ok(None);
            };
            match parse(&answer) {
                Ok(value) => return Ok(Some(value)),
                Err(why) => self.say(&format!("  {why}")),
            }
        }
    }

    /// The trimmed answer, or the default for an empty one; `None` when both are empty.
    fn ask(&mut self, question: &Question) -> Result<Option<String>, InitError> {
        let (input, output) = self.terminal.as_mut().expect("asked only on a terminal");
        let default = question
            .default
            .as_ref()
            .map_or(String::new(), |d| format!(" [{d}]"));
        // One write: a prompt in pieces would let a typed-ahead answer land in its middle.
        let prompt = format!("{}{default}: ", question.prompt);
        let _ = output.write_all(prompt.as_bytes());
        let _ = output.flush();
        let mut line = String::new();
        match input.read_line(&mut line) {
            Ok(0) | Err(_) => Err(InitError::NoAnswer {
                flag: question.flag,
            }),
            Ok(_) => Ok(match line.trim() {
                "" => question.default.clone(),
                answer => Some(answer.to_string()),
            }),
        }
    }

    fn say(&mut self, line: &str) {
        if let Some((_, output)) = self.terminal.as_mut() {
            let _ = writeln!(output, "{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_asked_again_until_they_parse_and_defaults_fill_in() {
        let mut input: &[u8] = b"nope\n42\n\n";
        let mut output = Vec::new();
        let mut asking = Asking::terminal(&mut input, &mut output);
        let number = |s: &str| s.parse::<u32>().map_err(|_| "a number".to_string());
        let got = asking.required(None, Question::new("--n", "A number"), number);
        assert_eq!(got.unwrap(), 42);
        let got = asking.required(None, Question::new("--m", "Another").default("7"), number);
        assert_eq!(got.unwrap(), 7);
        assert!(matches!(
            asking.required(None, Question::new("--k", "More"), number),
            Err(InitError::NoAnswer { flag: "--k" })
        ));
        let said = String::from_utf8(output).unwrap();
        assert_eq!(said, "A number:   a number\nA number: Another [7]: More: ");
        // Without a terminal: the flag, the default, or an error naming the flag.
        let mut nobody = Asking::nobody();
        assert_eq!(
            nobody
                .required(Some("3"), Question::new("--n", "N"), number)
                .unwrap(),
            3
        );
        assert!(matches!(
            nobody.required(None, Question::new("--n", "N"), number),
            Err(InitError::Missing { flag: "--n", .. })
        ));
        assert!(matches!(
            nobody.required(Some("x"), Question::new("--n", "N"), number),
            Err(InitError::Invalid { flag: "--n", .. })
        ));
    }
}
