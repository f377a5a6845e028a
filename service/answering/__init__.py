"""The answering core: a pipeline of stages, each a module with a typed input and output.

    understand.py  question, history, as_of → Understanding
                   (question.py, followup.py, timescope.py, premise.py)
    retrieve.py    Understanding's text and as_of → Hits, over the Corpus derived from the store
    read.py        Question, Hits → Candidates with their signals and the learned reader's score (reader.py)
    compose.py     Question, Candidates → Composition: the sentences that answer, or a refusal reason
    verify.py      a claim (a premise, an LLM sentence) and Candidates → Judgement
    respond.py     Composition / Judgement → AskResponse / VerifyResponse (service.schemas)

`pipeline.Verity` runs them (and `llm.py`, when an LLM server answers); `text.py` holds the word-level
helpers and the parser they share. The adapters (HTTP, Slack, CLI) import `pipeline` and the schemas;
nothing here imports them.
"""
