#include "services/evaluator/scbench_prompts.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "re2/re2.h"
#include "services/evaluator/scbench_tasks.h"

namespace kvlab {
namespace {

using nlohmann::json;

// Python's repr() of a string: single quotes unless the string holds one and
// no double quote.
std::string PythonRepr(const std::string& s) {
  const bool dq = s.find('\'') != std::string::npos && s.find('"') == std::string::npos;
  const char q = dq ? '"' : '\'';
  std::string out(1, q);
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == q) {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      out += c;
    }
  }
  out += q;
  return out;
}

std::string Scalar(const json& v, bool top) {
  if (v.is_string()) return top ? v.get<std::string>() : PythonRepr(v.get<std::string>());
  if (v.is_boolean()) return v.get<bool>() ? "True" : "False";
  if (v.is_null()) return "None";
  return v.dump();  // numbers
}

// The instruction that precedes the context (scdq templates, eval_utils.py).
std::string ContextPrefix(const std::string& task) {
  if (task == "kv") return "Extract the value corresponding to the specified key in the JSON object below.\n\n";
  if (task == "passkey") {
    return "There is an important info hidden inside a lot of irrelevant text. Find it and memorize it. I will "
           "quiz you about the important information.\n\n";
  }
  if (task == "choice_eng") return "Read the book and answer the question.\n\n";
  if (task == "qa_eng") return "Read the book and answer the question. Be very concise in your answer.\n\n";
  if (task == "qa_chn") return "\xe9\x98\x85\xe8\xaf\xbb\xe4\xbb\xa5\xe4\xb8\x8b\xe4\xb9\xa6\xe7\xb1\x8d\xe7\x84\xb6"
                               "\xe5\x90\x8e\xe5\x9b\x9e\xe7\xad\x94\xe9\x97\xae\xe9\xa2\x98\xe3\x80\x82\n\n";
  if (task == "repoqa") {
    return "Based on the function description and code context, please retrieve and repeat the exact described "
           "function from the code context in a code block wrapped by ```:\n\n";
  }
  return "";
}

}  // namespace

std::string PythonStr(const json& value) {
  if (!value.is_array()) return Scalar(value, true);
  std::string out = "[";
  for (size_t i = 0; i < value.size(); ++i) absl::StrAppend(&out, i ? ", " : "", Scalar(value[i], false));
  return out + "]";
}

absl::Status ApplyScbenchTemplates(TaskSample& sample) {
  const std::string& task = sample.task;
  sample.query_separator = "";
  if (const ScbenchTaskInfo* info = FindScbenchTask(task)) sample.max_new_tokens = info->max_new_tokens;
  std::string mf_first_prefix;
  for (size_t i = 0; i < sample.turns.size(); ++i) {
    TaskTurn& t = sample.turns[i];
    if (t.label.is_null()) t.label = t.answer;
    const std::string question = t.input;
    if (task == "choice_eng") {
      if (t.options.size() != 4) {
        return absl::InvalidArgumentError(absl::StrCat("turn ", i + 1, ": choice_eng needs 4 options, has ",
                                                       t.options.size()));
      }
      // "The the correct answer is" is the harness's wording (sic).
      t.input = absl::StrCat("Question: ", question, "\nA. ", t.options[0], "\nB. ", t.options[1], "\nC. ",
                             t.options[2], "\nD. ", t.options[3], "\n\nThe the correct answer is");
    } else if (task == "qa_eng") {
      t.input = absl::StrCat("Question: ", question, "\nAnswer:");
    } else if (task == "qa_chn") {
      // 问题：{question}\n答案：
      t.input = absl::StrCat("\xe9\x97\xae\xe9\xa2\x98\xef\xbc\x9a", question,
                             "\n\xe7\xad\x94\xe6\xa1\x88\xef\xbc\x9a");
    } else if (task == "mf") {
      // The harness takes re.findall(r"The .+ is", input)[0].lower()[:-3] and
      // asks "What is <that>?" before the question.
      std::string target;
      if (!RE2::PartialMatch(question, R"((The .+ is))", &target)) {
        return absl::InvalidArgumentError(absl::StrCat("turn ", i + 1, ": mf question has no \"The ... is\""));
      }
      target = absl::AsciiStrToLower(target.substr(0, target.size() - 3));
      const std::string prefix = absl::StrCat("What is ", target, "?");
      if (i == 0) {
        mf_first_prefix = prefix;
        t.first_input = question;
      }
      t.input = absl::StrCat(prefix, "\n\n", question);
    }
    t.answer = PythonStr(t.label);
    // Labels as get_ground_truth (eval_utils.py) builds them.
    if (task == "choice_eng") {
      size_t letter = 0;
      while (letter < 4 && t.options[letter] != t.answer) ++letter;
      if (letter == 4) {
        return absl::InvalidArgumentError(absl::StrCat("turn ", i + 1, ": choice_eng answer is not an option"));
      }
      t.label = json::array({t.answer, std::string(1, static_cast<char>('A' + letter))});
    } else if (task == "qa_eng" && t.label.is_string()) {
      t.label = json::array({t.label});
    }
    const int n = ScbenchMaxNewTokens(task, t.task);
    if (n > 0 && !t.task.empty()) t.max_new_tokens = n;
  }
  const std::string raw = sample.context;
  if (task == "mf" && !sample.turns.empty()) {
    // Multi-request puts the whole first question before the context;
    // multi-turn puts its "What is ...?" prefix there (eval_utils.py).
    const std::string first_question = sample.turns[0].first_input;
    sample.context = absl::StrCat(first_question, "\n\n", raw);
    sample.first_turn_context = absl::StrCat(mf_first_prefix, "\n\n", raw);
  } else {
    sample.context = ContextPrefix(task) + raw;
  }
  return absl::OkStatus();
}

}  // namespace kvlab
