"""Generate a synthetic news-like corpus of a given size, for the scale benchmark (`scripts/bench.py`).

    .venv/bin/python scripts/gen_corpus.py --passages 10000 --out /tmp/corpus.jsonl [--seed 0]

Articles are assembled from per-topic sentence templates filled with generated people, organisations,
places, dates and figures, so no two articles read alike but each is internally consistent (one story,
one cast). Every paragraph holds one to three sentences, so it becomes exactly one passage when indexed
(passages are at most three sentences of one paragraph): the passage count is hit by construction.
The same seed always gives the same corpus and the same questions. Output is the `.jsonl` corpus format
`verity index` reads (`id`, `title`, `text`, `author`, `published`, `source`).
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

FIRST = """Amara Bilal Carmen Dmitri Elena Farid Grace Hiroshi Ines Jonas Keiko Lars Maya Nikhil Olga Pablo
Quentin Rosa Samir Tova Umar Vera Wesley Ximena Yusuf Zara Adele Bruno Celia Dario Esther Felix Gemma Hugo
Ida Joel Kira Leon Mira Nadia Oscar Priya Rafael Sofia Tomas Uma Viktor Wanda Yara Zoltan Anika Boris Clara
Desmond Emil Fiona Gustavo Helena Ivan Julia Kofi Lucia Marco Noor Otto Petra Ravi Selma Theo""".split()
LAST = """Abara Bergstrom Castell Dubois Eriksen Fontaine Garber Halloran Ibsen Jaramillo Kowalski Lindqvist
Moreau Nakamura Okafor Petrov Quiroga Rasmussen Santoro Takahashi Ulrich Varga Whitlock Xu Yilmaz Zeller
Ashdown Brennan Carrow Delacroix Esposito Farrow Gallagher Haddad Iwasaki Jensen Kaplan Lombardi Mbeki
Novak Osei Pereira Quinlan Rinaldi Sokolov Tanaka Underhill Valdez Wexler Yamada Zubiri Achterberg Bianchi
Cordero Dunmore Ekwueme Falkner Grieve Horvath Ilunga Janssen Kuznetsov Lemaire Mwangi Nordahl""".split()
SYLLABLES = (
    "bar ven tor lis mar kel dun ros ath ell orn wick ford ham ley by sted mont val rin gar ost".split()
)
REGIONS = """Northern Province|Coastal District|Highland Region|River Valley|Eastern Territory|
Lakeland County|Southern Plains|Western Uplands|Central Basin|Harbor Region""".replace("\n", "").split("|")
ORG_A = "Northwind Silverline Ironbridge Bluehaven Redcliff Greenmoor Stonegate Brightwater Oakfield".split()
ORG_B = "Energy Logistics Holdings Bank Foods Telecom Pharma Motors Shipping Mining Water Airlines".split()
AGENCIES = """Ministry of Transport|Ministry of Health|Ministry of Finance|Environment Agency|Port Authority|
Electoral Commission|Supreme Court|Central Bank|Teachers' Union|Chamber of Commerce|Fire Service|
Police Department|Weather Service|Housing Authority|Water Board""".replace("\n", "").split("|")
ROLES = """spokeswoman|spokesman|chief executive|finance director|regional governor|mayor|police chief|
union leader|health minister|transport minister|chief economist|lead investigator|board chair|
deputy director|head of operations""".replace("\n", "").split("|")
MONTHS = "January February March April May June July August September October November December".split()
WEEKDAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
SOURCES = "The Daily Ledger|Morning Courier|Evening Standard Post|The Harbor Times|Valley Observer".split("|")

# Each topic: headline templates, then sentence templates (slots: {p} person, {p2} second person, {role},
# {org}, {agency}, {place}, {region}, {n} count, {money}, {pct}, {date}, {day}, {year}).
TOPICS: dict[str, tuple[list[str], list[str]]] = {
    "flood": (
        ["Floods cut off {place} as rivers rise", "Thousands leave {place} after record rainfall"],
        [
            "Heavy rain flooded parts of {place} on {day}, forcing {n} families from their homes.",
            "The {agency} said the river rose {pct} above its usual level in less than a day.",
            "{p}, the {role} of {place}, said emergency shelters had been opened in three schools.",
            "Rescue teams used boats to reach villages in the {region} that roads could no longer reach.",
            "Officials estimated the damage at {money}, most of it to farms and bridges.",
            "Residents said the last flood of this size struck the town in {year}.",
            "The {agency} warned that more rain was expected before {date}.",
            "{p2} said her shop on the main street had been under water for two days.",
            "Power was cut to about {n} homes while engineers checked flooded substations.",
        ],
    ),
    "strike": (
        ["Workers at {org} walk out over pay", "Strike halts {org} operations in {place}"],
        [
            "About {n} workers at {org} stopped work on {day} in a dispute over wages.",
            "{p}, the {role} of the union, said members had rejected a pay offer of {pct}.",
            "The company said the strike was costing it {money} a day in lost output.",
            "Talks between the two sides broke down on {date} after eleven hours.",
            "{p2}, a machine operator who joined {org} in {year}, said rents in {place} had doubled.",
            "The {agency} offered to mediate, according to a statement released late on {day}.",
            "Management said it would not raise its offer while the walkout continued.",
            "Pickets gathered outside the main gate of the plant in {place} before dawn.",
            "Analysts said the dispute could delay deliveries across the {region} for weeks.",
        ],
    ),
    "election": (
        ["{p} wins mayoral race in {place}", "Turnout climbs as {place} votes for a new council"],
        [
            "{p} won the mayoral election in {place} with {pct} of the vote, the {agency} said.",
            "Turnout reached {pct}, the highest since {year}, according to official figures.",
            "{p2}, the runner-up, conceded on {day} and called for the city to unite.",
            "The new council will take office on {date} and faces a budget gap of {money}.",
            "During the campaign {p} promised to build {n} affordable homes within four years.",
            "Observers from the {region} reported long queues but no serious irregularities.",
            "Supporters celebrated outside the town hall until late into the night.",
            "The result ends twelve years of control by the same party in {place}.",
            "Counting was delayed for two hours in one district after a power failure.",
        ],
    ),
    "trade": (
        ["{org} agrees takeover worth {money}", "{org} posts record profit as demand grows"],
        [
            "{org} said on {day} that its profit rose {pct} in the latest quarter.",
            "The company, based in {place}, employs about {n} people across the {region}.",
            "{p}, the {role} of {org}, said demand for its services had never been stronger.",
            "Shares in {org} closed {pct} higher after the announcement.",
            "The deal, valued at {money}, still needs approval from the {agency}.",
            "{p2}, an analyst who has covered the company since {year}, called the price generous.",
            "The firm plans to open a second site in {place} by {date}.",
            "Competitors have struggled with rising costs since the start of the year.",
            "The board said it would pay a special dividend to shareholders in the spring.",
        ],
    ),
    "court": (
        ["Court rules against {org} in contract dispute", "Former official charged in {place} bribery case"],
        [
            "The {agency} ruled on {day} that {org} had broken its contract with the city of {place}.",
            "{p}, a former {role}, was charged with accepting bribes worth {money}.",
            "Prosecutors said the payments were made between {year} and last spring.",
            "The judge ordered the company to pay damages within {n} days.",
            "{p2}, a lawyer for the defence, said the ruling would be appealed.",
            "The case began when an auditor in the {region} noticed unusual invoices.",
            "A hearing on the appeal has been set for {date}.",
            "The court heard evidence from {n} witnesses over six weeks.",
            "Legal experts said the decision could affect similar contracts across the country.",
        ],
    ),
    "health": (
        ["Hospital in {place} opens new cancer wing", "Measles cases rise in {place}, officials say"],
        [
            "The {agency} reported {n} new cases in {place} over the past week.",
            "{p}, the {role} of the regional hospital, said beds were being added to the children's ward.",
            "Vaccination rates in the {region} have fallen to {pct}, below the level experts recommend.",
            "A new clinic costing {money} is due to open on {date}.",
            "{p2}, a nurse who has worked in {place} since {year}, said staff were exhausted.",
            "Health officials urged parents to check their children's records before the school term.",
            "The outbreak was traced to a gathering held on {day} in a community hall.",
            "Doctors said most patients were recovering at home.",
            "The hospital has hired {n} additional staff since the start of the year.",
        ],
    ),
    "transport": (
        ["New rail line links {place} to the coast", "Bridge closure snarls traffic in {place}"],
        [
            "The {agency} opened the new rail line to {place} on {day} after six years of work.",
            "The project cost {money}, about {pct} more than first planned.",
            "{p}, the {role} of {org}, said trains would run every fifteen minutes at peak times.",
            "About {n} passengers are expected to use the line each day.",
            "{p2}, who commutes from {place}, said the journey now takes forty minutes instead of two hours.",
            "The old bridge across the river was closed on {date} after inspectors found cracks.",
            "Buses will replace trains on the eastern branch until repairs are finished.",
            "Engineers first raised concerns about the structure in {year}.",
            "Freight operators in the {region} said the closure was adding hours to deliveries.",
        ],
    ),
    "school": (
        ["Teachers in {place} vote to accept new contract", "{place} to build three new schools"],
        [
            "Teachers in {place} voted on {day} to accept a contract that raises pay by {pct}.",
            "The {agency} said the deal would cost {money} over three years.",
            "{p}, the {role} of the district, said class sizes would fall to {n} pupils.",
            "Three new schools will be built in the {region}, the first opening on {date}.",
            "{p2}, a parent of two, said the old building had no heating in winter.",
            "Enrolment in the district has grown every year since {year}.",
            "The union had threatened to strike if no agreement was reached before the new term.",
            "Officials said {n} new teachers would be hired by the autumn.",
            "The plan includes a library and a sports hall open to the public at weekends.",
        ],
    ),
}
OUT_OF_SCOPE = [
    "Who won the football world cup final in 1998?",
    "What is the boiling point of water at the top of Mount Everest?",
    "How many moons does Jupiter have?",
    "Who painted the ceiling of the Sistine Chapel?",
]


@dataclass
class Cast:
    p: str
    p2: str
    role: str
    org: str
    agency: str
    place: str
    region: str
    year: int


class Generator:
    def __init__(self, seed: int = 0) -> None:
        self.rng = random.Random(seed)
        self.places = sorted(
            {
                (a + b).capitalize() + c
                for a in SYLLABLES
                for b in SYLLABLES
                for c in ("", "", " Falls", " Springs", "port", "ton")
                if a != b
            }
        )

    def person(self) -> str:
        return f"{self.rng.choice(FIRST)} {self.rng.choice(LAST)}"

    def cast(self) -> Cast:
        r = self.rng
        return Cast(
            p=self.person(),
            p2=self.person(),
            role=r.choice(ROLES),
            org=f"{r.choice(ORG_A)} {r.choice(ORG_B)}",
            agency=r.choice(AGENCIES),
            place=r.choice(self.places),
            region=r.choice(REGIONS),
            year=r.randint(1975, 2018),
        )

    def fill(self, template: str, cast: Cast) -> str:
        r = self.rng
        return template.format(
            p=cast.p,
            p2=cast.p2,
            role=cast.role,
            org=cast.org,
            agency=cast.agency,
            place=cast.place,
            region=cast.region,
            year=cast.year,
            n=f"{r.randint(12, 48_000):,}",
            money=f"${r.randint(2, 950)} million",
            pct=f"{r.randint(2, 89)} percent",
            date=f"{r.choice(MONTHS)} {r.randint(1, 28)}",
            day=r.choice(WEEKDAYS),
        )

    def article(self, number: int, paragraphs: int) -> tuple[dict[str, str], str]:
        """One article of `paragraphs` paragraphs (1-3 sentences each), and a question it answers."""
        r = self.rng
        topic = r.choice(sorted(TOPICS))
        headlines, templates = TOPICS[topic]
        cast = self.cast()
        body = []
        for _ in range(paragraphs):
            chosen = r.sample(templates, r.choice((1, 2, 2, 3, 3, 3)))
            body.append(" ".join(self.fill(t, cast) for t in chosen))
        questions = {
            "flood": f"How many families were forced from their homes in {cast.place}?",
            "strike": f"Why did workers at {cast.org} go on strike?",
            "election": f"Who won the mayoral election in {cast.place}?",
            "trade": f"How much did the profit of {cast.org} rise?",
            "court": f"What was {cast.p} charged with?",
            "health": f"How many new cases did the {cast.agency} report in {cast.place}?",
            "transport": f"When did the new rail line to {cast.place} open?",
            "school": f"By how much will the contract raise teachers' pay in {cast.place}?",
        }
        record = {
            "id": f"gen-{number:07d}",
            "title": self.fill(r.choice(headlines), cast),
            "author": self.person(),
            "published": f"20{r.randint(10, 24)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}",
            "source": r.choice(SOURCES),
            "text": "\n\n".join(body),
        }
        return record, questions[topic]


def generate(passages: int, seed: int = 0) -> Iterator[tuple[dict[str, str], str]]:
    """Articles (with one question each) whose paragraphs add up to exactly `passages`."""
    gen = Generator(seed)
    left, number = passages, 0
    while left > 0:
        size = min(left, gen.rng.randint(6, 30))
        yield gen.article(number, size)
        left -= size
        number += 1


def write_corpus(passages: int, out: Path, seed: int = 0, questions: int = 40) -> list[str]:
    """Write the corpus to `out` (JSONL); return `questions` questions spread evenly over it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    asked: list[str] = []
    with out.open("w") as f:
        for record, question in generate(passages, seed):
            f.write(json.dumps(record) + "\n")
            asked.append(question)
    step = max(1, len(asked) // questions)
    picked = asked[::step][: questions - len(OUT_OF_SCOPE)]
    return picked + OUT_OF_SCOPE


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--passages", type=int, required=True, help="passages the corpus indexes into")
    parser.add_argument("--out", type=Path, required=True, help="the .jsonl file to write")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--questions", type=Path, help="also write questions about the corpus (JSONL)")
    args = parser.parse_args()
    questions = write_corpus(args.passages, args.out, args.seed)
    if args.questions:
        args.questions.write_text("".join(json.dumps({"question": q}) + "\n" for q in questions))
    print(f"wrote {args.out} ({args.passages} passages) and {len(questions)} questions")


if __name__ == "__main__":
    main()
