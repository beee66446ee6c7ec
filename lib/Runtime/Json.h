//===- Json.h - A small JSON reader -----------------------------*- C++ -*-===//
//
// Enough JSON for manifest.json: RFC 8259 values, UTF-8 text, \u escapes,
// a nesting limit, and errors that name the line and column.
//
//===----------------------------------------------------------------------===//

#ifndef FLASH_LIB_RUNTIME_JSON_H
#define FLASH_LIB_RUNTIME_JSON_H

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace flashrt {

class JsonValue {
public:
  enum class Kind { Null, Bool, Number, String, Array, Object };

  Kind kind = Kind::Null;
  bool boolean = false;
  double number = 0;
  /// Set for numbers written without fraction or exponent that fit int64.
  bool isInteger = false;
  int64_t integer = 0;
  std::string string;
  /// Array elements, or object member values in source order.
  std::vector<JsonValue> elements;
  /// Object member keys, parallel to `elements`.
  std::vector<std::string> keys;

  /// The member named `key` of an object, or null if absent.
  const JsonValue *get(std::string_view key) const;

  /// "an object", "a string", ...: for error messages.
  const char *kindName() const;
};

/// Parses `text` as one JSON value. On failure returns false and sets `error`
/// to "line L, column C: what".
bool parseJson(std::string_view text, JsonValue &out, std::string &error);

} // namespace flashrt

#endif // FLASH_LIB_RUNTIME_JSON_H
