"""Model editing: a synthetic knowledge base, a small transformer that learns it, and editors that change its
facts (fine-tuning, FT+KL, ROME, MEND, SERAC), scored by edit success and drawdown on single and sequential edits.

The API: ``editor.edit(model, [(question, new answer), ...]) -> edited model``; ``python -m launch train mend``
or ``serac`` meta-trains an editor and ``python -m launch edit`` applies edits from a file.
"""
