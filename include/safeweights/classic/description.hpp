// The JSON description of a classic model (spec/CLASSIC.md C1, C2): the value
// of the metadata key `safeweights.sklearn`, read into plain structs. This is
// rule C4.1: every field C++ uses is present and of its type, the types are on
// the allow-list (else unsupported_model), and each node's tensor prefix is the
// one its place in the tree gives. What the tensors hold is model_rules.hpp's.
#pragma once

#include <simdjson.h>

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "safeweights/detail/strict_json.hpp"
#include "safeweights/error.hpp"
#include "safeweights/util/json_text.hpp"
#include "safeweights/version.hpp"

namespace safeweights {
SAFEWEIGHTS_INLINE_NAMESPACE_BEGIN
namespace classic {

// The metadata key that holds the description, and the format it names.
inline constexpr std::string_view description_key = "safeweights.sklearn";
inline constexpr std::string_view format_name = "safeweights.sklearn";
inline constexpr std::int64_t format_version = 1;
// Pipelines inside pipelines, at most: the description is read recursively.
inline constexpr std::size_t max_pipeline_depth = 16;

// A classifier's labels in scikit-learn's (sorted) order: every label as
// text, and, when they are JSON integers, as numbers too.
struct class_labels {
  std::vector<std::string> names;
  std::vector<double> numbers;  // empty for string labels
  std::size_t size() const noexcept { return names.size(); }
};

// One estimator of the description. Only the fields of its `type` are set.
struct estimator_node {
  std::string where;  // its place in the JSON, for messages: "estimator.steps[1].estimator"
  std::string type;
  std::string prefix;  // of its tensor names
  std::uint64_t n_features_in = 0;
  // StandardScaler
  bool with_mean = true;
  bool with_std = true;
  // MinMaxScaler
  double range_low = 0;
  double range_high = 1;
  bool clip = false;
  // LinearRegression, Ridge: 0 for a 1-D target
  std::uint64_t n_targets = 0;
  // classifiers
  class_labels classes;
  bool multinomial = false;  // LogisticRegression's multi_class
  // trees and boosting
  std::uint64_t n_trees = 0;
  std::uint64_t trees_per_stage = 1;
  std::vector<std::uint64_t> max_depth;  // each tree's depth, as scikit-learn recorded it
  double learning_rate = 0;
  // Pipeline
  std::vector<std::string> step_names;
  std::vector<estimator_node> steps;
};

struct description {
  std::string sklearn_version;
  estimator_node estimator;
};

namespace detail {

class description_parser {
  using strict_object = safeweights::detail::strict_object;

 public:
  result<description> run(std::string_view json) {
    simdjson::padded_string text(json);  // a copy with the padding simdjson reads past the end
    simdjson::dom::element root;
    if (auto e = parser_.parse(text).get(root)) return bad("", std::string("not JSON: ") + simdjson::error_message(e));
    auto top = object(root, "the description");
    if (!top) return std::move(top).error_value();
    auto format = string_field(*top, "format", "the description");
    if (!format) return std::move(format).error_value();
    if (*format != format_name) return bad("", "`format` is " + quote(*format) + ", not " + quote(format_name));
    auto version = int_field(*top, "format_version", "the description");
    if (!version) return std::move(version).error_value();
    if (*version != format_version)
      return bad("", "`format_version` is " + std::to_string(*version) + "; this reader knows version " +
                         std::to_string(format_version));
    auto sklearn = string_field(*top, "sklearn_version", "the description");
    if (!sklearn) return std::move(sklearn).error_value();
    auto root_node = member(*top, "estimator", "the description");
    if (!root_node) return std::move(root_node).error_value();
    description d;
    d.sklearn_version = std::string(*sklearn);
    auto node = read_node(*root_node, "estimator", "", 0);
    if (!node) return std::move(node).error_value();
    d.estimator = std::move(*node);
    return d;
  }

 private:
  using element = simdjson::dom::element;
  static std::optional<std::string_view> json_string(element e) { return safeweights::detail::json_string(e); }

  static std::string quote(std::string_view s) {
    std::string out;
    append_json_string(out, s.substr(0, 200));
    return out;
  }
  static error bad(const std::string& where, const std::string& why) {
    return make_error(errc::invalid_model, "metadata " + quote(description_key) + ": " +
                                               (where.empty() ? "" : where + ": ") + why);
  }
  static error unsupported(const std::string& where, const std::string& why) {
    return make_error(errc::unsupported_model, "metadata " + quote(description_key) + ": " +
                                                   (where.empty() ? "" : where + ": ") + why);
  }

  static result<strict_object> object(element e, const std::string& where) {
    std::string repeated;
    auto o = strict_object::of(e, &repeated);
    if (!o) return bad(where, repeated.empty() ? "not a JSON object" : "repeats the key " + quote(repeated));
    return std::move(*o);
  }
  static result<element> member(const strict_object& o, std::string_view key, const std::string& where) {
    auto e = o.get(key);
    if (!e) return bad(where, "no " + quote(key));
    return *e;
  }
  static result<std::string_view> string_field(const strict_object& o, std::string_view key, const std::string& where) {
    auto e = member(o, key, where);
    if (!e) return std::move(e).error_value();
    auto s = json_string(*e);
    if (!s) return bad(where, quote(key) + " is not a string");
    return *s;
  }
  static result<std::int64_t> int_field(const strict_object& o, std::string_view key, const std::string& where) {
    auto e = member(o, key, where);
    if (!e) return std::move(e).error_value();
    std::int64_t v = 0;
    if (e->get_int64().get(v)) return bad(where, quote(key) + " is not an integer");
    return v;
  }
  // An integer in [low, 2^63).
  static result<std::uint64_t> count_field(const strict_object& o, std::string_view key, const std::string& where,
                                           std::int64_t low) {
    auto v = int_field(o, key, where);
    if (!v) return std::move(v).error_value();
    if (*v < low) return bad(where, quote(key) + " is " + std::to_string(*v) + ", below " + std::to_string(low));
    return static_cast<std::uint64_t>(*v);
  }
  static result<bool> bool_param(const strict_object& params, std::string_view key, const std::string& where) {
    auto e = member(params, key, where + ": params");
    if (!e) return std::move(e).error_value();
    bool v = false;
    if (e->get_bool().get(v)) return bad(where, "params." + std::string(key) + " is not a boolean");
    return v;
  }
  static result<double> finite_number(element e, const std::string& where, std::string_view what) {
    double v = 0;
    if (e.get_double().get(v) || !std::isfinite(v)) return bad(where, std::string(what) + " is not a finite number");
    return v;
  }

  // params: get_params(deep=False), whose values are JSON scalars or lists of them (C1).
  static result<strict_object> read_params(const strict_object& node, const std::string& where) {
    auto e = member(node, "params", where);
    if (!e) return std::move(e).error_value();
    auto params = object(*e, where + ": params");
    if (!params) return std::move(params).error_value();
    for (const auto& [key, value] : params->members()) {
      bool nested = value.is_object();
      simdjson::dom::array list;
      if (!value.get_array().get(list))
        for (element item : list) nested = nested || item.is_object() || item.is_array();
      if (nested) return bad(where, "params." + std::string(key) + " is not a JSON scalar or a list of scalars");
    }
    return params;
  }

  // Labels: K >= 2 distinct JSON integers or strings, in increasing order.
  static result<class_labels> read_classes(const strict_object& node, const std::string& where) {
    auto e = member(node, "classes", where);
    if (!e) return std::move(e).error_value();
    simdjson::dom::array list;
    if (e->get_array().get(list)) return bad(where, "`classes` is not a list");
    class_labels out;
    bool numeric = false;
    std::vector<std::int64_t> ints;
    for (element item : list) {
      std::int64_t n = 0;
      std::string_view s;
      const bool is_int = !item.get_int64().get(n);
      const bool is_string = !is_int && !item.get_string().get(s);
      if (!is_int && !is_string) return bad(where, "`classes` holds a value that is neither an integer nor a string");
      if (out.names.empty()) numeric = is_int;
      if (is_int != numeric) return bad(where, "`classes` mixes integers and strings");
      if (is_int) {
        if (!ints.empty() && n <= ints.back())
          return bad(where, "`classes` is not in increasing order: " + std::to_string(n) + " after " +
                                std::to_string(ints.back()));
        ints.push_back(n);
        out.names.push_back(std::to_string(n));
        out.numbers.push_back(static_cast<double>(n));
      } else {
        if (!out.names.empty() && s <= std::string_view(out.names.back()))
          return bad(where, "`classes` is not in increasing order: " + quote(s) + " after " + quote(out.names.back()));
        out.names.emplace_back(s);
      }
    }
    if (out.names.size() < 2)
      return bad(where, "`classes` has " + std::to_string(out.names.size()) + " labels; a classifier needs 2 or more");
    return out;
  }

  // C4.6: `multi_class` is what scikit-learn 1.2 resolves params.multi_class to.
  static result<void> check_multi_class(const strict_object& params, const estimator_node& out) {
    const std::string& where = out.where;
    auto given = params.get("multi_class");
    auto solver = params.get("solver");
    const auto given_text = given ? json_string(*given) : std::nullopt;
    const auto solver_text = solver ? json_string(*solver) : std::nullopt;
    if (!given_text || (*given_text != "ovr" && *given_text != "auto" && *given_text != "multinomial"))
      return bad(where, "params.multi_class is not \"ovr\", \"auto\" or \"multinomial\"");
    bool ovr = *given_text == "ovr";
    if (*given_text == "auto")
      ovr = out.classes.size() == 2 || (solver_text && (*solver_text == "liblinear" || *solver_text == "newton-cholesky"));
    if (ovr == out.multinomial)
      return bad(where, "`multi_class` is " + std::string(out.multinomial ? "\"multinomial\"" : "\"ovr\"") +
                            ", but params.multi_class " + quote(*given_text) + " resolves to " +
                            (ovr ? "\"ovr\"" : "\"multinomial\""));
    return {};
  }

  static bool known_type(std::string_view t) {
    for (std::string_view k : {"StandardScaler", "MinMaxScaler", "LinearRegression", "Ridge", "LogisticRegression",
                               "DecisionTreeClassifier", "RandomForestClassifier", "DecisionTreeRegressor",
                               "RandomForestRegressor", "GradientBoostingClassifier", "GradientBoostingRegressor",
                               "Pipeline"})
      if (t == k) return true;
    return false;
  }

  result<estimator_node> read_node(element e, const std::string& where, const std::string& prefix, std::size_t depth) {
    auto node = object(e, where);
    if (!node) return std::move(node).error_value();
    estimator_node out;
    out.where = where;
    auto type = string_field(*node, "type", where);
    if (!type) return std::move(type).error_value();
    out.type = std::string(*type);
    if (!known_type(out.type))
      return unsupported(where, "estimator type " + quote(out.type) + " is not on the allow-list (spec/CLASSIC.md C2)");
    auto own_prefix = string_field(*node, "prefix", where);
    if (!own_prefix) return std::move(own_prefix).error_value();
    if (*own_prefix != prefix)
      return bad(where, "`prefix` is " + quote(*own_prefix) + "; its place in the description makes it " + quote(prefix));
    out.prefix = prefix;
    auto params = read_params(*node, where);
    if (!params) return std::move(params).error_value();
    auto width = count_field(*node, "n_features_in", where, 1);
    if (!width) return std::move(width).error_value();
    out.n_features_in = *width;
    if (auto r = check_feature_names(*node, out.n_features_in, where); !r) return std::move(r).error_value();
    if (auto r = read_type_fields(*node, *params, out, depth); !r) return std::move(r).error_value();
    return out;
  }

  static result<void> check_feature_names(const strict_object& node, std::uint64_t width, const std::string& where) {
    auto e = member(node, "feature_names_in", where);
    if (!e) return std::move(e).error_value();
    if (e->is_null()) return {};
    simdjson::dom::array names;
    if (e->get_array().get(names)) return bad(where, "`feature_names_in` is neither a list nor null");
    std::uint64_t n = 0;
    for (element name : names) {
      if (!name.is_string()) return bad(where, "`feature_names_in` holds a value that is not a string");
      ++n;
    }
    if (n != width)
      return bad(where, "`feature_names_in` has " + std::to_string(n) + " names for " + std::to_string(width) +
                            " features");
    return {};
  }

  result<void> read_type_fields(const strict_object& node, const strict_object& params, estimator_node& out,
                                std::size_t depth) {
    const std::string& where = out.where;
    const std::string_view t = out.type;
    if (t == "StandardScaler") {
      auto with_mean = bool_param(params, "with_mean", where);
      if (!with_mean) return std::move(with_mean).error_value();
      auto with_std = bool_param(params, "with_std", where);
      if (!with_std) return std::move(with_std).error_value();
      out.with_mean = *with_mean;
      out.with_std = *with_std;
      auto seen = count_field(node, "n_samples_seen", where, 1);
      if (!seen) return std::move(seen).error_value();
      return {};
    }
    if (t == "MinMaxScaler") {
      auto seen = count_field(node, "n_samples_seen", where, 1);
      if (!seen) return std::move(seen).error_value();
      auto range = member(params, "feature_range", where + ": params");
      if (!range) return std::move(range).error_value();
      simdjson::dom::array pair;
      element ends[2];
      if (range->get_array().get(pair) || pair.size() != 2 || pair.at(0).get(ends[0]) || pair.at(1).get(ends[1]))
        return bad(where, "params.feature_range is not a list of two numbers");
      auto low = finite_number(ends[0], where, "params.feature_range[0]");
      if (!low) return std::move(low).error_value();
      auto high = finite_number(ends[1], where, "params.feature_range[1]");
      if (!high) return std::move(high).error_value();
      if (!(*low < *high)) return bad(where, "params.feature_range is not increasing");
      auto clip = bool_param(params, "clip", where);
      if (!clip) return std::move(clip).error_value();
      out.range_low = *low;
      out.range_high = *high;
      out.clip = *clip;
      return {};
    }
    if (t == "LinearRegression" || t == "Ridge") {
      auto targets = count_field(node, "n_targets", where, 0);
      if (!targets) return std::move(targets).error_value();
      out.n_targets = *targets;
      return {};
    }
    if (t == "LogisticRegression") {
      auto classes = read_classes(node, where);
      if (!classes) return std::move(classes).error_value();
      out.classes = std::move(*classes);
      auto multi = string_field(node, "multi_class", where);
      if (!multi) return std::move(multi).error_value();
      if (*multi != "ovr" && *multi != "multinomial")
        return unsupported(where, "`multi_class` " + quote(*multi) + " is neither \"ovr\" nor \"multinomial\"");
      out.multinomial = *multi == "multinomial";
      return check_multi_class(params, out);
    }
    if (t == "Pipeline") return read_steps(node, out, depth);
    // The tree-based estimators.
    const bool classifier = t.ends_with("Classifier");
    const bool boosting = t.starts_with("GradientBoosting");
    if (classifier) {
      auto classes = read_classes(node, where);
      if (!classes) return std::move(classes).error_value();
      out.classes = std::move(*classes);
    }
    auto trees = count_field(node, "n_trees", where, 1);
    if (!trees) return std::move(trees).error_value();
    out.n_trees = *trees;
    auto depths = read_max_depth(node, out.n_trees, where);
    if (!depths) return std::move(depths).error_value();
    out.max_depth = std::move(*depths);
    if (auto r = check_tree_random_state(node, out.n_trees, where); !r) return std::move(r).error_value();
    if (t.starts_with("DecisionTree") && out.n_trees != 1)
      return bad(where, "`n_trees` is " + std::to_string(out.n_trees) + "; a decision tree is one tree");
    if (!boosting) return {};
    if (auto init = params.get("init"); init && !init->is_null())
      return unsupported(where, "params.init is not the default (null): only the default initial estimator is supported");
    auto per_stage = count_field(node, "trees_per_stage", where, 1);
    if (!per_stage) return std::move(per_stage).error_value();
    out.trees_per_stage = *per_stage;
    const std::uint64_t expected = classifier && out.classes.size() > 2 ? out.classes.size() : 1;
    if (out.trees_per_stage != expected)
      return bad(where, "`trees_per_stage` is " + std::to_string(out.trees_per_stage) + ", not " +
                            std::to_string(expected));
    if (out.n_trees % out.trees_per_stage != 0)
      return bad(where, "`n_trees` " + std::to_string(out.n_trees) + " is not a multiple of `trees_per_stage` " +
                            std::to_string(out.trees_per_stage));
    auto rate = member(node, "learning_rate", where);
    if (!rate) return std::move(rate).error_value();
    auto lr = finite_number(*rate, where, "`learning_rate`");
    if (!lr) return std::move(lr).error_value();
    out.learning_rate = *lr;
    auto loss = string_field(node, "loss", where);
    if (!loss) return std::move(loss).error_value();
    auto params_loss = member(params, "loss", where + ": params");
    if (!params_loss) return std::move(params_loss).error_value();
    auto loss_in_params = json_string(*params_loss);
    if (!loss_in_params) return bad(where, "params.loss is not a string");
    auto known_loss = [&](std::string_view l) {
      return classifier ? l == "log_loss" || l == "deviance"  // deviance: scikit-learn 1.2's old name for log_loss
                        : l == "squared_error" || l == "absolute_error" || l == "huber" || l == "quantile";
    };
    if (!known_loss(*loss_in_params))
      return unsupported(where, "params.loss " + quote(*loss_in_params) + " is not supported for " + out.type);
    if (!known_loss(*loss) || *loss == "deviance")
      return unsupported(where, "`loss` " + quote(*loss) + " is not supported for " + out.type);
    // C4.6: what is stored twice agrees, since Python rebuilds from params.
    auto params_rate = member(params, "learning_rate", where + ": params");
    if (!params_rate) return std::move(params_rate).error_value();
    double rate_in_params = 0;
    if (params_rate->get_double().get(rate_in_params) || rate_in_params != out.learning_rate)
      return bad(where, "params.learning_rate is not `learning_rate` (" + std::to_string(out.learning_rate) + ")");
    if (*loss_in_params != *loss && !(*loss_in_params == "deviance" && *loss == "log_loss"))
      return bad(where, "params.loss " + quote(*loss_in_params) + " is not `loss` (" + quote(*loss) + ")");
    return {};
  }

  static result<std::vector<std::uint64_t>> read_max_depth(const strict_object& node, std::uint64_t n_trees,
                                                           const std::string& where) {
    auto e = member(node, "max_depth", where);
    if (!e) return std::move(e).error_value();
    simdjson::dom::array depths;
    if (e->get_array().get(depths)) return bad(where, "`max_depth` is not a list");
    if (depths.size() != n_trees)
      return bad(where, "`max_depth` has " + std::to_string(depths.size()) + " entries for " +
                            std::to_string(n_trees) + " trees");
    std::vector<std::uint64_t> out;
    out.reserve(depths.size());
    for (element d : depths) {
      std::int64_t v = 0;
      if (d.get_int64().get(v) || v < 0) return bad(where, "`max_depth` holds a value that is not an integer >= 0");
      out.push_back(static_cast<std::uint64_t>(v));
    }
    return out;
  }

  // Forests' optional `tree_random_state`: T integers or nulls (Python's rebuild reads it).
  static result<void> check_tree_random_state(const strict_object& node, std::uint64_t n_trees,
                                              const std::string& where) {
    auto e = node.get("tree_random_state");
    if (!e) return {};
    simdjson::dom::array states;
    if (e->get_array().get(states) || states.size() != n_trees)
      return bad(where, "`tree_random_state` is not a list of " + std::to_string(n_trees) + " entries");
    for (element v : states) {
      std::int64_t n = 0;
      if (!v.is_null() && v.get_int64().get(n))
        return bad(where, "`tree_random_state` holds a value that is neither an integer nor null");
    }
    return {};
  }

  result<void> read_steps(const strict_object& node, estimator_node& out, std::size_t depth) {
    const std::string& where = out.where;
    if (depth + 1 >= max_pipeline_depth)
      return unsupported(where, "pipelines nested more than " + std::to_string(max_pipeline_depth) + " deep");
    auto e = member(node, "steps", where);
    if (!e) return std::move(e).error_value();
    simdjson::dom::array list;
    if (e->get_array().get(list)) return bad(where, "`steps` is not a list");
    std::size_t i = 0;
    for (element item : list) {
      const std::string step_where = where + ".steps[" + std::to_string(i) + "]";
      auto step = object(item, step_where);
      if (!step) return std::move(step).error_value();
      auto name = string_field(*step, "name", step_where);
      if (!name) return std::move(name).error_value();
      auto inner = member(*step, "estimator", step_where);
      if (!inner) return std::move(inner).error_value();
      auto child = read_node(*inner, step_where + ".estimator", out.prefix + "steps." + std::to_string(i) + ".", depth + 1);
      if (!child) return std::move(child).error_value();
      out.step_names.emplace_back(*name);
      out.steps.push_back(std::move(*child));
      ++i;
    }
    if (out.steps.empty()) return bad(where, "`steps` is empty");
    return {};
  }

  simdjson::dom::parser parser_;
};

}  // namespace detail

// Reads the description (C4.1). Errors are invalid_model or unsupported_model,
// naming the metadata key and the place in the JSON; callers add the file.
inline result<description> parse_description(std::string_view json) {
  detail::description_parser parser;
  return parser.run(json);
}

}  // namespace classic
SAFEWEIGHTS_INLINE_NAMESPACE_END
}  // namespace safeweights
