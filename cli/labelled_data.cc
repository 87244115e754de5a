#include "cli/labelled_data.h"

#include <algorithm>
#include <boost/json.hpp>
#include <fstream>
#include <istream>

namespace parapet::cli {
namespace {

// One CSV record (RFC 4180: quotes, "" escapes, newlines inside quotes) from `in`; false at end.
bool ReadCsvRecord(std::istream& in, std::vector<std::string>& fields, int& line_no) {
  fields.clear();
  std::string field;
  bool quoted = false, any = false;
  for (int c; (c = in.get()) != EOF;) {
    any = true;
    if (quoted) {
      if (c == '"') {
        if (in.peek() == '"') {
          field += '"';
          in.get();
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++line_no;
        field += static_cast<char>(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.push_back(std::move(field));
      field.clear();
    } else if (c == '\n') {
      ++line_no;
      if (!field.empty() && field.back() == '\r') field.pop_back();
      fields.push_back(std::move(field));
      return true;
    } else {
      field += static_cast<char>(c);
    }
  }
  if (!any) return false;
  fields.push_back(std::move(field));
  return true;
}

}  // namespace

Status LoadLabelledTexts(const std::string& path, const std::string& text_col,
                         const std::string& label_col, bool label_optional,
                         std::vector<LabelledText>& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError(path + ": cannot open");
  const bool csv = path.ends_with(".csv");
  int line_no = 0;
  if (csv) {
    std::vector<std::string> header, row;
    if (!ReadCsvRecord(in, header, line_no)) return InvalidArgumentError(path + ": empty");
    auto col = [&](const std::string& name) -> int {
      auto it = std::find(header.begin(), header.end(), name);
      return it == header.end() ? -1 : static_cast<int>(it - header.begin());
    };
    const int t = col(text_col), l = col(label_col);
    if (t < 0 || (l < 0 && !label_optional)) {
      return InvalidArgumentError(path + ":1: no column '" + (t < 0 ? text_col : label_col) +
                                  "' in the header (--text-column / --label-column)");
    }
    while (ReadCsvRecord(in, row, line_no)) {
      if (row.size() == 1 && row[0].empty()) continue;
      if (static_cast<int>(row.size()) <= std::max(t, l)) {
        return InvalidArgumentError(path + ":" + std::to_string(line_no) + ": " +
                                    std::to_string(row.size()) + " fields, the header has " +
                                    std::to_string(header.size()));
      }
      out.push_back({row[static_cast<size_t>(t)], l < 0 ? "" : row[static_cast<size_t>(l)]});
    }
    return Status::Ok();
  }
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(line, ec);
    const std::string where = path + ":" + std::to_string(line_no) + ": ";
    if (ec || !v.is_object()) return InvalidArgumentError(where + "not a JSON object");
    const boost::json::object& o = v.as_object();
    auto text = o.find(text_col);
    auto label = o.find(label_col);
    if (text == o.end() || !text->value().is_string()) {
      return InvalidArgumentError(where + "no string field '" + text_col + "'");
    }
    if (label == o.end() && label_optional) {
      out.push_back({std::string(text->value().as_string()), ""});
      continue;
    }
    if (label == o.end() || !(label->value().is_string() || label->value().is_int64())) {
      return InvalidArgumentError(where + "no field '" + label_col + "'");
    }
    out.push_back({std::string(text->value().as_string()),
                   label->value().is_string() ? std::string(label->value().as_string())
                                              : std::to_string(label->value().as_int64())});
  }
  return Status::Ok();
}

}  // namespace parapet::cli
