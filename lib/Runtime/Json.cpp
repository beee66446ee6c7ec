//===- Json.cpp - A small JSON reader -------------------------------------===//

#include "Json.h"

#include <charconv>

using namespace flashrt;

const JsonValue *JsonValue::get(std::string_view key) const {
  if (kind != Kind::Object)
    return nullptr;
  for (size_t i = 0, e = keys.size(); i != e; ++i)
    if (keys[i] == key)
      return &elements[i];
  return nullptr;
}

const char *JsonValue::kindName() const {
  switch (kind) {
  case Kind::Null:
    return "null";
  case Kind::Bool:
    return "a boolean";
  case Kind::Number:
    return "a number";
  case Kind::String:
    return "a string";
  case Kind::Array:
    return "an array";
  case Kind::Object:
    return "an object";
  }
  return "a value";
}

namespace {

constexpr int kMaxDepth = 64;

class Parser {
public:
  explicit Parser(std::string_view text) : text(text) {}

  bool parseDocument(JsonValue &out) {
    skipSpace();
    if (!parseValue(out, 0))
      return false;
    skipSpace();
    if (pos != text.size())
      return failHere("unexpected text after the JSON value");
    return true;
  }

  std::string error;

private:
  std::string_view text;
  size_t pos = 0;

  bool atEnd() const { return pos >= text.size(); }
  char peek() const { return atEnd() ? '\0' : text[pos]; }

  bool failHere(const std::string &what) { return failAt(pos, what); }
  bool failAt(size_t at, const std::string &what) {
    size_t line = 1, column = 1;
    for (size_t i = 0; i < at && i < text.size(); ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    error = "line " + std::to_string(line) + ", column " +
            std::to_string(column) + ": " + what;
    return false;
  }

  void skipSpace() {
    while (!atEnd() && (text[pos] == ' ' || text[pos] == '\t' ||
                        text[pos] == '\n' || text[pos] == '\r'))
      ++pos;
  }

  bool expectWord(std::string_view word) {
    if (text.substr(pos, word.size()) != word)
      return failHere("invalid literal, expected '" + std::string(word) + "'");
    pos += word.size();
    return true;
  }

  bool parseValue(JsonValue &out, int depth) {
    if (depth > kMaxDepth)
      return failHere("nesting deeper than " + std::to_string(kMaxDepth));
    if (atEnd())
      return failHere("unexpected end of input, expected a value");
    char c = peek();
    switch (c) {
    case '{':
      return parseObject(out, depth);
    case '[':
      return parseArray(out, depth);
    case '"':
      out.kind = JsonValue::Kind::String;
      return parseString(out.string);
    case 't':
      out.kind = JsonValue::Kind::Bool;
      out.boolean = true;
      return expectWord("true");
    case 'f':
      out.kind = JsonValue::Kind::Bool;
      out.boolean = false;
      return expectWord("false");
    case 'n':
      out.kind = JsonValue::Kind::Null;
      return expectWord("null");
    default:
      if (c == '-' || (c >= '0' && c <= '9'))
        return parseNumber(out);
      return failHere(std::string("unexpected character '") + c +
                      "', expected a value");
    }
  }

  bool parseObject(JsonValue &out, int depth) {
    out.kind = JsonValue::Kind::Object;
    ++pos; // '{'
    skipSpace();
    if (peek() == '}') {
      ++pos;
      return true;
    }
    while (true) {
      skipSpace();
      if (peek() != '"')
        return failHere("expected a string key");
      size_t keyPos = pos;
      std::string key;
      if (!parseString(key))
        return false;
      if (out.get(key))
        return failAt(keyPos, "duplicate key \"" + key + "\"");
      skipSpace();
      if (peek() != ':')
        return failHere("expected ':' after an object key");
      ++pos;
      skipSpace();
      JsonValue value;
      if (!parseValue(value, depth + 1))
        return false;
      out.keys.push_back(std::move(key));
      out.elements.push_back(std::move(value));
      skipSpace();
      if (peek() == ',') {
        ++pos;
        continue;
      }
      if (peek() == '}') {
        ++pos;
        return true;
      }
      return failHere("expected ',' or '}' in an object");
    }
  }

  bool parseArray(JsonValue &out, int depth) {
    out.kind = JsonValue::Kind::Array;
    ++pos; // '['
    skipSpace();
    if (peek() == ']') {
      ++pos;
      return true;
    }
    while (true) {
      skipSpace();
      JsonValue value;
      if (!parseValue(value, depth + 1))
        return false;
      out.elements.push_back(std::move(value));
      skipSpace();
      if (peek() == ',') {
        ++pos;
        continue;
      }
      if (peek() == ']') {
        ++pos;
        return true;
      }
      return failHere("expected ',' or ']' in an array");
    }
  }

  static bool isDigit(char c) { return c >= '0' && c <= '9'; }

  bool parseNumber(JsonValue &out) {
    size_t start = pos;
    if (peek() == '-')
      ++pos;
    if (peek() == '0') {
      ++pos;
    } else if (isDigit(peek())) {
      while (isDigit(peek()))
        ++pos;
    } else {
      return failHere("expected a digit");
    }
    bool integral = true;
    if (peek() == '.') {
      integral = false;
      ++pos;
      if (!isDigit(peek()))
        return failHere("expected a digit after '.'");
      while (isDigit(peek()))
        ++pos;
    }
    if (peek() == 'e' || peek() == 'E') {
      integral = false;
      ++pos;
      if (peek() == '+' || peek() == '-')
        ++pos;
      if (!isDigit(peek()))
        return failHere("expected a digit in the exponent");
      while (isDigit(peek()))
        ++pos;
    }
    const char *first = text.data() + start;
    const char *last = text.data() + pos;
    out.kind = JsonValue::Kind::Number;
    if (std::from_chars(first, last, out.number).ec != std::errc())
      return failAt(start, "number out of range");
    if (integral) {
      auto result = std::from_chars(first, last, out.integer);
      out.isInteger = result.ec == std::errc() && result.ptr == last;
    }
    return true;
  }

  bool parseHex4(unsigned &value) {
    value = 0;
    for (int i = 0; i < 4; ++i) {
      char c = peek();
      unsigned digit;
      if (c >= '0' && c <= '9')
        digit = c - '0';
      else if (c >= 'a' && c <= 'f')
        digit = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        digit = c - 'A' + 10;
      else
        return failHere("expected four hex digits after \\u");
      value = value * 16 + digit;
      ++pos;
    }
    return true;
  }

  static void appendUtf8(std::string &out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  bool parseEscape(std::string &out) {
    size_t start = pos - 1; // the backslash
    char c = peek();
    ++pos;
    switch (c) {
    case '"':
    case '\\':
    case '/':
      out += c;
      return true;
    case 'b':
      out += '\b';
      return true;
    case 'f':
      out += '\f';
      return true;
    case 'n':
      out += '\n';
      return true;
    case 'r':
      out += '\r';
      return true;
    case 't':
      out += '\t';
      return true;
    case 'u': {
      unsigned cp;
      if (!parseHex4(cp))
        return false;
      if (cp >= 0xDC00 && cp <= 0xDFFF)
        return failAt(start, "unpaired low surrogate in \\u escape");
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (text.substr(pos, 2) != "\\u")
          return failAt(start, "unpaired high surrogate in \\u escape");
        pos += 2;
        unsigned low;
        if (!parseHex4(low))
          return false;
        if (low < 0xDC00 || low > 0xDFFF)
          return failAt(start, "invalid low surrogate in \\u escape");
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
      }
      appendUtf8(out, cp);
      return true;
    }
    default:
      --pos;
      return failHere(std::string("invalid escape '\\") + c + "'");
    }
  }

  bool parseString(std::string &out) {
    size_t start = pos;
    ++pos; // '"'
    while (true) {
      if (atEnd())
        return failAt(start, "unterminated string");
      char c = text[pos];
      if (c == '"') {
        ++pos;
        return true;
      }
      if (static_cast<unsigned char>(c) < 0x20)
        return failHere(c == '\n' ? "newline in a string (unterminated?)"
                                   : "control character in a string");
      if (c == '\\') {
        ++pos;
        if (atEnd())
          return failAt(start, "unterminated string");
        if (!parseEscape(out))
          return false;
        continue;
      }
      out += c;
      ++pos;
    }
  }
};

} // namespace

bool flashrt::parseJson(std::string_view text, JsonValue &out,
                        std::string &error) {
  Parser parser(text);
  out = JsonValue();
  if (parser.parseDocument(out))
    return true;
  error = std::move(parser.error);
  return false;
}
