// Names of epochd's enumerated settings (store, executor, auth mode, log
// format and level): one table per enum gives both directions, so that what
// the parser accepts, its error messages, and what logs and whoami print
// cannot drift apart. (--help's descriptions name the values in prose.)
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace epochd {

template <class E>
using NameTable = std::pair<E, std::string_view>;

template <class E, std::size_t N>
constexpr std::string_view name_in(E e, const NameTable<E> (&names)[N]) {
  for (const auto& [value, name] : names)
    if (value == e) return name;
  return "?";
}

template <class E, std::size_t N>
constexpr std::optional<E> value_in(std::string_view name, const NameTable<E> (&names)[N]) {
  for (const auto& [value, n] : names)
    if (n == name) return value;
  return std::nullopt;
}

// "a, b, c": the names, for messages and --help.
template <class E, std::size_t N>
std::string names_of(const NameTable<E> (&names)[N]) {
  std::string out;
  for (const auto& [value, name] : names) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

}  // namespace epochd
