"""The examples ``%%omni?`` prints after the options: each a cell a user can copy."""

EXAMPLES = """
Examples::

    %%omni
    Who are you?

    %%omni -m qwen-omni-turbo -v Serena --out reply
    Tell me a joke about notebooks.

    %%omni --think
    Why is the sky blue? Think it through.

    %%omni --dry-run --system "Answer in French."
    What is a Jupyter kernel?

    %%omni -i cat.png -i https://example.com/dog.jpg
    What do these two pictures have in common?

    %%omni -a interview.mp3
    Summarize this recording.

    %%omni --frames "frames/*.jpg"
    Describe what happens.

    %%omni --frames clip.mp4
    Describe what happens (the frames the service would sample, as a frame list).

    %%omni -i phone_photo.heic --video screen_recording.mp4 --fit
    What is on the screen? (--fit downscales and re-encodes what is too large to send)

    %%omni --record hello.jsonl
    Say hello.

    %%omni --replay hello.jsonl --speed 2
    Say hello.

    %%omni --each "photos/*.jpg" --concurrency 8 --out captions
    Write a one-line caption.

    %%omni -a lecture.mp3 --segments 10m --then "Summarise with timestamps." --out parts
    List the topics of this part (each 10-minute window is asked; parts holds the table).

Line forms: ``%omni models``, ``%omni voices [MODEL]``, ``%omni history``,
``%omni reset``, ``%omni config``, ``%omni record NAME``. A cell magic cannot wait for the
page while the kernel is busy, so recording happens between cells: run ``%omni record q``,
press record, speak, press stop, then run ``%%omni -a q`` in the next cell.

With no DASHSCOPE_API_KEY and no base URL the embedded emulator answers.
"""
